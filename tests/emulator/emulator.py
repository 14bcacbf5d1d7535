#!/usr/bin/env python3
"""studio-warden's local AWS emulator: moto's server plus the SageMaker Studio,
sso-admin and Identity Store operations moto lacks, fault switches and call stats, all
on one port.

    python tests/emulator/emulator.py [--host 127.0.0.1] [--port 0] [--seed N]
        [--status-delay SECONDS] [--profile-quota N] [--fault SPEC]... [--rate-limit SPEC]...

Prints exactly one line ``EMULATOR READY http://HOST:PORT`` on stdout once it listens.
Exits on SIGTERM/SIGINT and by itself when its parent process dies.

SageMaker, Identity Store and sso-admin requests are validated against botocore's service
models (validate.py) before moto or an extension sees them.

Every request acts in the account of its access key id (accounts.py: a key moto issued, or a
key of 12 digits naming the account; anything else is 123456789012). STS AssumeRole honours
the role's trust policy (sts_ext.py).

Control endpoint (same port):
    POST /_emulator/faults  JSON list of {service, operation, throttle, error, latency_ms}
                            (replaces the rules; "*" matches any service/operation)
    GET  /_emulator/faults  the current rules
    POST /_emulator/reset   clears faults, stats, moto state and the extensions' state
    GET  /_emulator/stats   {"calls": {"service:Operation": n}, "faults": {...}, "total_calls": n,
                            "rate_limited": {...}, "accounts": {account: {region: {service:
                            {calls, accepted, rate_limited, faults}}}}}
                            (+ "timeline": [[arrival, done, "service:Operation", fault], ...]
                            while the call timeline is on; times are time.monotonic())
                            (+ "rate_limit_buckets": [...] while a rate limit is set)
    POST /_emulator/config  JSON {status_delay?, profile_quota?, seed?, call_timeline?,
                            fast_transactions?, transaction_hold_ms?, identity_stores?,
                            identity_center_account?, rate_limits?}
                            rate_limits: {service: {per_second, burst?, per_operation?}}, a token
                            bucket per (service, account, region) (ratelimit.py); replaces every
                            limit, {} switches them off
    POST /_emulator/identitystore/user-status  JSON {IdentityStoreId, UserId, UserStatus}
    POST /_emulator/identitystore/seed  JSON {IdentityStoreId, Groups, Users, Prefix} (benchmarks)
    POST /_emulator/sagemaker/profile-status   JSON {DomainId, UserProfileName, Status}
    POST /_emulator/sagemaker/seed-profiles    JSON {DomainId, Profiles: [{Name, Tags, UserSettings}]}
    POST /_emulator/sagemaker/app-status       JSON {DomainId, UserProfileName|SpaceName, AppType, AppName,
                                               Status: "Failed", FailureReason?}
    POST /_emulator/sagemaker/legacy-sso-domain JSON {DomainId} (no SingleSignOnApplicationArn, as before 10/2023)
    POST /_emulator/dynamodb/pending-item      JSON {TableName, Key, Seconds, Account?} (writes to it conflict)
    POST /_emulator/organizations/accounts     JSON {ManagementAccount, Accounts} (join an organisation)
    GET  /_emulator/config  the current settings
moto's own POST /moto-api/reset clears moto and extension state (not faults or stats).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import signal
import sys
import threading
import time
import uuid
from typing import Any, Callable, Iterable

# Taken before the slow imports below, so a parent that dies during start-up is noticed.
_PPID_AT_START = os.getppid()

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

# moto records every request to ./moto_recording when this variable is set to anything
# (even "False"): keep it off.
os.environ.pop("MOTO_ENABLE_RECORDING", None)
# moto would put every request in this account whatever its credentials; the account comes
# from the access key alone (accounts.py).
os.environ.pop("MOTO_ACCOUNT_ID", None)

from werkzeug.serving import make_server  # noqa: E402

from moto.moto_api._internal import mock_random  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)

import accounts  # noqa: E402
import config  # noqa: E402
import dynamodb_ext  # noqa: E402
import ec2_ext  # noqa: E402,F401  (installs the EC2 fixes)
import events_ext  # noqa: E402,F401  (installs cross-account event bus delivery)
import faults  # noqa: E402
import ratelimit  # noqa: E402
import identitystore_ext  # noqa: E402,F401  (installs the Identity Store fixes)
import sagemaker_ext  # noqa: E402,F401  (installs the SageMaker operations)
import sns_ext  # noqa: E402
import sqs_ext  # noqa: E402,F401  (installs the SQS fixes)
import speedups  # noqa: E402,F401  (moto internals made faster, same answers)
import ssoadmin_ext  # noqa: E402,F401  (installs the sso-admin operations)
import sts_ext  # noqa: E402
import validate  # noqa: E402

StartResponse = Callable[..., Any]

# JSON-protocol services whose every request is validated against botocore's service model
# (stats/fault service name -> botocore model name) before moto or an extension sees it.
MODEL_VALIDATED = {"sagemaker": "sagemaker", "identitystore": "identitystore", "sso-admin": "sso-admin"}

# Calls that may block inside moto (SQS long polling waits up to 20 s for a message) and
# therefore must not hold the request lock.
UNSERIALISED = {("sqs", "ReceiveMessage")}


def reset_all_state() -> None:
    """moto's reset: every backend is re-created, which also drops the extension state
    (it lives on the backend objects)."""
    from moto.moto_api._internal.models import moto_api_backend

    with config.LOCK:
        moto_api_backend.reset()
        sts_ext.clear_organizations()
        config.SETTINGS.identity_center_account = config.DEFAULT_IDENTITY_CENTER_ACCOUNT
        dynamodb_ext.clear()
        dynamodb_ext.HOLD["ms"] = 0


class Emulator:
    def __init__(self, engine: faults.FaultEngine, limiter: ratelimit.RateLimiter | None = None) -> None:
        self.engine = engine
        self.limiter = limiter if limiter is not None else ratelimit.RateLimiter()
        self.moto = DomainDispatcherApplication(create_backend_app)

    # -- control endpoint ---------------------------------------------------------
    def control(self, environ: dict[str, Any], body: bytes) -> tuple[int, Any]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            payload = json.loads(body.decode() or "null") if body else None
        except ValueError as exc:
            return 400, {"error": f"invalid JSON: {exc}"}
        if path == "/_emulator/health":
            return 200, {"status": "ok"}
        if path == "/_emulator/stats" and method == "GET":
            out = self.engine.stats()
            if self.limiter.limits:
                out["rate_limit_buckets"] = self.limiter.stats()
            return 200, out
        if path == "/_emulator/faults":
            if method == "GET":
                return 200, [r.to_json() for r in self.engine.rules]
            if method == "POST":
                if not isinstance(payload, list):
                    return 400, {"error": "expected a JSON list of fault rules"}
                try:
                    rules = [faults.FaultRule.from_json(item) for item in payload]
                except (ValueError, TypeError, AttributeError) as exc:
                    return 400, {"error": str(exc)}
                self.engine.set_rules(rules)
                return 200, [r.to_json() for r in rules]
        if path == "/_emulator/identitystore/seed" and method == "POST":
            if not isinstance(payload, dict):
                return 400, {"error": "expected {IdentityStoreId, Groups, Users, Prefix}"}
            from moto.identitystore.models import identitystore_backends

            backend = identitystore_backends[str(payload.get("Account", "123456789012"))][
                str(payload.get("Region", "us-east-1"))
            ]
            try:
                return 200, identitystore_ext.seed(
                    backend,
                    str(payload.get("IdentityStoreId", "")),
                    [str(g) for g in payload.get("Groups", [])],
                    int(payload.get("Users", 0)),
                    str(payload.get("Prefix", "user")),
                )
            except (ValueError, TypeError) as exc:
                return 400, {"error": str(exc)}
        if path == "/_emulator/identitystore/user-status" and method == "POST":
            if not isinstance(payload, dict):
                return 400, {"error": "expected {IdentityStoreId, UserId, UserStatus}"}
            from moto.identitystore.models import identitystore_backends

            backend = identitystore_backends[str(payload.get("Account", "123456789012"))][
                str(payload.get("Region", "us-east-1"))
            ]
            try:
                identitystore_ext.set_user_status(
                    backend,
                    str(payload.get("IdentityStoreId", "")),
                    str(payload.get("UserId", "")),
                    str(payload.get("UserStatus", "")),
                )
            except (KeyError, ValueError) as exc:
                return 404 if isinstance(exc, KeyError) else 400, {"error": str(exc)}
            return 200, {"status": "ok"}
        if path == "/_emulator/sagemaker/seed-profiles" and method == "POST":
            if not isinstance(payload, dict) or not isinstance(payload.get("Profiles"), list):
                return 400, {"error": "expected {DomainId, Profiles: [{Name, Tags, UserSettings}]}"}
            try:
                seeded = sagemaker_ext.seed_profiles(
                    str(payload.get("Account", "123456789012")),
                    str(payload.get("Region", "us-east-1")),
                    str(payload.get("DomainId", "")),
                    payload["Profiles"],
                )
            except (KeyError, ValueError) as exc:
                return 404 if isinstance(exc, KeyError) else 400, {"error": str(exc)}
            return 200, {"seeded": seeded}
        if path == "/_emulator/sagemaker/profile-status" and method == "POST":
            if not isinstance(payload, dict):
                return 400, {"error": "expected {DomainId, UserProfileName, Status}"}
            try:
                sagemaker_ext.set_profile_status(
                    str(payload.get("Account", "123456789012")),
                    str(payload.get("Region", "us-east-1")),
                    str(payload.get("DomainId", "")),
                    str(payload.get("UserProfileName", "")),
                    str(payload.get("Status", "")),
                )
            except (KeyError, ValueError) as exc:
                return 404 if isinstance(exc, KeyError) else 400, {"error": str(exc)}
            return 200, {"status": "ok"}
        if path == "/_emulator/sagemaker/app-status" and method == "POST":
            if not isinstance(payload, dict):
                return 400, {"error": "expected {DomainId, UserProfileName|SpaceName, AppType, AppName, Status}"}
            try:
                sagemaker_ext.set_app_status(
                    str(payload.get("Account", "123456789012")),
                    str(payload.get("Region", "us-east-1")),
                    payload,
                    str(payload.get("Status", "")),
                    payload.get("FailureReason"),
                )
            except (KeyError, ValueError) as exc:
                return 404 if isinstance(exc, KeyError) else 400, {"error": str(exc)}
            return 200, {"status": "ok"}
        if path == "/_emulator/sagemaker/legacy-sso-domain" and method == "POST":
            if not isinstance(payload, dict):
                return 400, {"error": "expected {DomainId}"}
            try:
                sagemaker_ext.set_legacy_sso_domain(
                    str(payload.get("Account", "123456789012")),
                    str(payload.get("Region", "us-east-1")),
                    str(payload.get("DomainId", "")),
                )
            except (KeyError, ValueError) as exc:
                return 404 if isinstance(exc, KeyError) else 400, {"error": str(exc)}
            return 200, {"status": "ok"}
        if path == "/_emulator/dynamodb/pending-item" and method == "POST":
            if not isinstance(payload, dict):
                return 400, {"error": "expected {TableName, Key, Seconds}"}
            try:
                seconds = float(payload.get("Seconds", 0))
                if seconds <= 0:
                    raise ValueError("Seconds must be > 0")
                dynamodb_ext.mark_pending(
                    (str(payload.get("Account", "123456789012")), str(payload.get("Region", "us-east-1"))),
                    str(payload.get("TableName", "")),
                    payload.get("Key") or {},
                    seconds,
                )
            except (KeyError, ValueError, TypeError) as exc:
                return 404 if isinstance(exc, KeyError) else 400, {"error": str(exc)}
            return 200, {"status": "ok"}
        if path == "/_emulator/organizations/accounts" and method == "POST":
            if not isinstance(payload, dict) or not isinstance(payload.get("Accounts"), list):
                return 400, {"error": "expected {ManagementAccount, Accounts: [account ids]}"}
            try:
                with config.LOCK:
                    return 200, sts_ext.join_organization(
                        str(payload.get("ManagementAccount", "")), [str(a) for a in payload["Accounts"]]
                    )
            except (KeyError, ValueError) as exc:
                return 404 if isinstance(exc, KeyError) else 400, {"error": str(exc)}
        if path == "/_emulator/reset" and method == "POST":
            self.engine.reset()
            self.limiter.reset()
            reset_all_state()
            return 200, {"status": "ok"}
        if path == "/_emulator/config":
            if method == "POST":
                if not isinstance(payload, dict):
                    return 400, {"error": "expected a JSON object"}
                try:
                    apply_config(payload, self.engine, self.limiter)
                except (ValueError, TypeError) as exc:
                    return 400, {"error": str(exc)}
            if method in ("GET", "POST"):
                s = config.SETTINGS
                return 200, {
                    "status_delay": s.status_delay,
                    "profile_quota": s.profile_quota,
                    "seed": s.seed,
                    "identity_stores": s.identity_stores,
                    "identity_center_account": s.identity_center_account,
                    "call_timeline": self.engine.timeline_enabled,
                    "fast_transactions": dynamodb_ext.FAST_TRANSACTIONS["enabled"],
                    "transaction_hold_ms": dynamodb_ext.HOLD["ms"],
                    "rate_limits": self.limiter.to_json(),
                }
        return 404, {"error": f"unknown control endpoint {method} {path}"}

    # -- WSGI ----------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        arrival = time.monotonic()
        if not self.engine.timeline_enabled:
            return self._handle(environ, start_response)
        result = self._handle(environ, start_response)
        attributed = environ.get("emulator.attributed")
        if attributed is not None:
            service, operation, kind = attributed
            self.engine.record(arrival, time.monotonic(), service, operation, kind)
        return result

    def _handle(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        body = _read_body(environ)
        if path.startswith("/_emulator/"):
            status, obj = self.control(environ, body)
            data = json.dumps(obj).encode()
            start_response(
                f"{status} {'OK' if status == 200 else 'Error'}",
                [("Content-Type", "application/json"), ("Content-Length", str(len(data)))],
            )
            return [data]
        if path.startswith("/moto-api/reset") and environ.get("REQUEST_METHOD") == "POST":
            with config.LOCK:
                dynamodb_ext.clear()
                sts_ext.clear_organizations()
                return self.moto(environ, start_response)
        attributed = None if path.startswith("/moto-api") else faults.attribute(environ, body)
        if not path.startswith("/moto-api"):
            with config.LOCK:
                caller = accounts.settle(environ)
        if attributed is not None:
            service, operation, _region = attributed
            if not self.limiter.admit(service, operation, caller.account, _region, time.monotonic()):
                # The rate model (ratelimit.py): answered as the service answers a throttled
                # call, after the operation's injected latency; no fault is drawn.
                environ["emulator.attributed"] = (service, operation, "rate_limit")
                faults.sleep_ms(self.engine.count_rate_limited(service, operation, caller.account, _region))
                if (service, operation) == ("dynamodb", "TransactWriteItems"):
                    return dynamodb_ext.throttled_transaction(body, start_response)
                status, headers, payload = faults.error_response(service, "throttle")
                headers.append(("Content-Length", str(len(payload))))
                start_response(f"{status} {'Service Unavailable' if status >= 500 else 'Bad Request'}", headers)
                return [payload]
            kind, latency = self.engine.decide(service, operation, caller.account, _region)
            environ["emulator.attributed"] = (service, operation, kind)
            faults.sleep_ms(latency)
            if kind == "throttle" and (service, operation) == ("dynamodb", "TransactWriteItems"):
                return dynamodb_ext.throttled_transaction(body, start_response)
            if kind is not None:
                status, headers, payload = faults.error_response(service, kind)
                headers.append(("Content-Length", str(len(payload))))
                start_response(f"{status} {'Service Unavailable' if status >= 500 else 'Bad Request'}", headers)
                return [payload]
            model_name = MODEL_VALIDATED.get(service)
            if model_name is not None:
                refusal = validate.validate_json_body(model_name, operation, body)
                if refusal is None and service == "sagemaker":
                    refusal = sagemaker_ext.reserved_tag_keys(body)
                if refusal is not None:
                    return _json_error(start_response, "ValidationException", refusal)
            if (service, operation) == ("sns", "Publish"):
                refusal_sns = sns_ext.publish_refusal(body, environ.get("CONTENT_TYPE", ""))
                if refusal_sns is not None:
                    return sns_ext.error(start_response, *refusal_sns)
            if (service, operation) == ("sts", "AssumeRole"):
                with config.LOCK:
                    reason = sts_ext.refusal(caller, environ, body)
                    if reason is not None:
                        logging.getLogger("emulator.sts").info("AssumeRole refused: %s", reason)
                        return sts_ext.access_denied(start_response, caller, environ, body)
                    return self.moto(environ, start_response)
            if (service, operation) in UNSERIALISED:
                return self.moto(environ, start_response)
            if (service, operation) == ("dynamodb", "TransactWriteItems"):
                # Takes the request lock itself, and lets it go while a held transaction's
                # items are pending.
                return dynamodb_ext.transact_write_items(
                    self.moto, environ, start_response, body, (caller.account, _region)
                )
            if service == "dynamodb":
                with config.LOCK:
                    conflict = dynamodb_ext.single_write_conflict(
                        operation, body, (caller.account, _region), start_response
                    )
                    if conflict is not None:
                        return conflict
                    return self.moto(environ, start_response)
        # moto's backends check-then-write without locks (DynamoDB condition expressions,
        # transactions, Identity Store uniqueness...): one request at a time keeps them
        # atomic, as the real services are. Requests are short; injected latency is spent
        # above, outside the lock.
        with config.LOCK:
            return self.moto(environ, start_response)


def _json_error(start_response: StartResponse, code: str, message: str, status: int = 400, **fields: Any) -> list[bytes]:
    """An error in the AWS JSON protocols' form (``__type`` plus message, and any typed
    members of the error shape)."""
    payload = json.dumps({"__type": code, "message": message, "Message": message, **fields}).encode()
    start_response(
        f"{status} Bad Request",
        [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("Content-Length", str(len(payload))),
            ("x-amzn-RequestId", str(uuid.uuid4())),
            ("x-amzn-ErrorType", code),
        ],
    )
    return [payload]


def _read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if length > 0:
        body = stream.read(length)
    elif environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked" or environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def apply_config(
    payload: dict[str, Any], engine: faults.FaultEngine, limiter: ratelimit.RateLimiter | None = None
) -> None:
    s = config.SETTINGS
    if payload.get("rate_limits") is not None:
        if limiter is None:
            raise ValueError("rate_limits: no rate model here")
        # First, so that a refused rate_limits changes nothing.
        limiter.configure(payload["rate_limits"])
    if payload.get("status_delay") is not None:
        delay = float(payload["status_delay"])
        if delay < 0:
            raise ValueError("status_delay must be >= 0")
        s.status_delay = delay
    if payload.get("profile_quota") is not None:
        quota = int(payload["profile_quota"])
        if quota < 0:
            raise ValueError("profile_quota must be >= 0")
        s.profile_quota = quota
    if payload.get("seed") is not None:
        s.seed = int(payload["seed"])
        engine.set_seed(s.seed)
        mock_random.seed(s.seed)
    if payload.get("fast_transactions") is not None:
        if not isinstance(payload["fast_transactions"], bool):
            raise ValueError("fast_transactions must be true or false")
        dynamodb_ext.FAST_TRANSACTIONS["enabled"] = payload["fast_transactions"]
    if payload.get("identity_stores") is not None:
        stores = payload["identity_stores"]
        if not isinstance(stores, list) or not stores or not all(isinstance(x, str) for x in stores):
            raise ValueError("identity_stores must be a non-empty list of identity store ids")
        s.identity_stores = list(stores)
    if payload.get("identity_center_account") is not None:
        account = payload["identity_center_account"]
        if not isinstance(account, str) or not account.isdigit() or len(account) != 12:
            raise ValueError("identity_center_account must be a 12-digit account id")
        s.identity_center_account = account
    if payload.get("transaction_hold_ms") is not None:
        hold = int(payload["transaction_hold_ms"])
        if not 0 <= hold <= 60_000:
            raise ValueError("transaction_hold_ms must be within [0, 60000]")
        dynamodb_ext.HOLD["ms"] = hold
    if payload.get("call_timeline") is not None:
        if not isinstance(payload["call_timeline"], bool):
            raise ValueError("call_timeline must be true or false")
        engine.set_timeline(payload["call_timeline"])


def watch_parent(parent_pid: int) -> None:
    """Exit as soon as the process that started us is gone (we get re-parented)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(0.5)


def warm_up(dispatcher: DomainDispatcherApplication) -> None:
    """Build the busiest backends' Flask apps and load their botocore models off the
    request path (runs after READY, while the client sets itself up)."""
    try:
        from moto.core.utils import get_service_model

        for backend in ("sagemaker", "identitystore", "ssoadmin"):
            with dispatcher.lock:
                if backend not in dispatcher.app_instances:
                    dispatcher.app_instances[backend] = create_backend_app(backend)
        for name in ("sagemaker", "identitystore", "sso-admin"):
            get_service_model(name)
            validate.service_model(name)
    except Exception:  # pragma: no cover - warm-up is best effort
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0, help="seed for fault draws and moto's ids")
    parser.add_argument("--status-delay", type=float, default=0.2, help="seconds a transitional status lasts")
    parser.add_argument(
        "--profile-quota",
        type=int,
        default=config.DEFAULT_PROFILE_QUOTA,
        help=f"user profiles per domain before ResourceLimitExceeded (default {config.DEFAULT_PROFILE_QUOTA})",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="service:Operation:throttle=0.1,error=0.02,latency=50 ('*' allowed); repeatable",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        default=_PPID_AT_START,
        help="exit when this process is no longer our parent (default: the parent at start-up)",
    )
    parser.add_argument(
        "--rate-limit",
        action="append",
        default=[],
        metavar="SPEC",
        help="SERVICE:PER_SECOND[:BURST], e.g. sagemaker:8: a token bucket per account and region "
        "(ec2: per API action too); repeatable; off by default",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--fast-transactions",
        action="store_true",
        help="accepted for older benchmarks; changes nothing (TransactWriteItems always rolls back "
        "by an undo log now, see dynamodb_ext.py)",
    )
    args = parser.parse_args(argv)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    try:
        rules = [faults.FaultRule.parse(spec) for spec in args.fault]
    except ValueError as exc:
        parser.error(str(exc))
    limiter = ratelimit.RateLimiter()
    try:
        limiter.set_limits(dict(ratelimit.Limit.parse(spec) for spec in args.rate_limit))
    except ValueError as exc:
        parser.error(str(exc))
    engine = faults.FaultEngine(seed=args.seed)
    engine.set_rules(rules)
    apply_config(
        {
            "status_delay": args.status_delay,
            "profile_quota": args.profile_quota,
            "seed": args.seed,
            "fast_transactions": True if args.fast_transactions else None,
        },
        engine,
    )

    threading.Thread(target=watch_parent, args=(args.parent_pid,), daemon=True, name="parent-watch").start()

    def stop(_signum: int, _frame: Any) -> None:
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    app = Emulator(engine, limiter)
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    host, port = server.server_address[:2]
    os.environ["MOTO_PORT"] = str(port)
    sys.stdout.write(f"EMULATOR READY http://{host}:{port}\n")
    sys.stdout.flush()
    threading.Thread(target=warm_up, args=(app.moto,), daemon=True, name="warm-up").start()
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
