"""Fault injection, call statistics and protocol-correct AWS error responses.

Every AWS request that reaches the emulator is attributed to a ``service`` (the SigV4
signing name from the credential scope, with ``sso`` reported as ``sso-admin``) and an
``operation`` (from ``X-Amz-Target``, the query-protocol ``Action`` or, for REST
protocols, the botocore model's HTTP bindings). Each call is counted; then the most
specific matching fault rule decides whether to delay it, throttle it or fail it with
a 5xx.

Reproducibility: every (service, operation) pair owns a ``random.Random`` seeded from
``"<seed>:<service>:<operation>"`` and draws exactly one number per call, so the same
seed and the same sequence of calls per operation yield the same faults, whatever the
interleaving between operations.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

# SigV4 signing name -> name used in stats and fault rules.
SERVICE_ALIASES = {
    "sso": "sso-admin",
    "ssoadmin": "sso-admin",
    "eventbridge": "events",
}

# Wire protocol per service (as the current Rust SDK speaks it). Anything not listed is
# treated as JSON, which every JSON-based SDK can parse.
PROTOCOLS = {
    "sagemaker": "json",
    "sso-admin": "json",
    "identitystore": "json",
    "dynamodb": "json",
    "sqs": "json",  # the Rust SDK speaks awsJson1_0 to SQS
    "events": "json",
    "logs": "json",
    "kms": "json",
    "sns": "query",
    "sts": "query",
    "iam": "query",
    "ec2": "ec2",
    "scheduler": "rest-json",
    "lambda": "rest-json",
    "s3": "rest-xml",
}

# botocore model names for REST services (operation lookup by HTTP binding).
BOTOCORE_NAMES = {"scheduler": "scheduler", "lambda": "lambda", "s3": "s3"}

# Throttling error codes, all in aws-runtime's THROTTLING_ERRORS list so the SDK's retry
# classifier treats them as throttling (backoff + retry).
THROTTLE_CODES = {
    "sagemaker": ("ThrottlingException", 400),
    "sso-admin": ("ThrottlingException", 400),
    "identitystore": ("ThrottlingException", 400),
    "dynamodb": ("ThrottlingException", 400),
    "sqs": ("RequestThrottled", 400),
    "events": ("ThrottlingException", 400),
    "sns": ("Throttling", 400),
    "sts": ("Throttling", 400),
    "iam": ("Throttling", 400),
    "ec2": ("RequestLimitExceeded", 503),
    "scheduler": ("ThrottlingException", 429),
    "lambda": ("TooManyRequestsException", 429),
    "s3": ("SlowDown", 503),
}
# Server-side faults: modelled ones where the service has one, else the common errors.
ERROR_CODES = {
    "dynamodb": ("InternalServerError", 500),
    "identitystore": ("InternalServerException", 500),
    "sso-admin": ("InternalServerException", 500),
    "scheduler": ("InternalServerException", 500),
    "ec2": ("InternalError", 500),
    "s3": ("InternalError", 500),
}
DEFAULT_THROTTLE = ("ThrottlingException", 400)
DEFAULT_ERROR = ("InternalFailure", 500)


def canonical_service(name: str) -> str:
    name = name.lower()
    return SERVICE_ALIASES.get(name, name)


@dataclass
class FaultRule:
    service: str = "*"
    operation: str = "*"
    throttle: float = 0.0
    error: float = 0.0
    latency_ms: int = 0

    @staticmethod
    def from_json(obj: dict[str, Any]) -> "FaultRule":
        rule = FaultRule(
            service=str(obj.get("service", "*")),
            operation=str(obj.get("operation", "*")),
            throttle=float(obj.get("throttle", 0.0)),
            error=float(obj.get("error", 0.0)),
            latency_ms=int(obj.get("latency_ms", 0)),
        )
        rule.validate()
        if rule.service != "*":
            rule.service = canonical_service(rule.service)
        return rule

    @staticmethod
    def parse(spec: str) -> "FaultRule":
        """``service:Operation:throttle=0.1,error=0.02,latency=50`` (``*`` allowed)."""
        parts = spec.split(":", 2)
        if len(parts) != 3:
            raise ValueError(
                f"fault spec {spec!r} must look like service:Operation:throttle=0.1,error=0.02,latency=50"
            )
        obj: dict[str, Any] = {"service": parts[0], "operation": parts[1]}
        for item in filter(None, (p.strip() for p in parts[2].split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"fault setting {item!r} is not key=value")
            key = {"latency": "latency_ms"}.get(key.strip(), key.strip())
            if key not in ("throttle", "error", "latency_ms"):
                raise ValueError(f"unknown fault setting {key!r} (throttle, error, latency)")
            obj[key] = value.strip()
        return FaultRule.from_json(obj)

    def validate(self) -> None:
        for name, value in (("throttle", self.throttle), ("error", self.error)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.throttle + self.error > 1.0:
            raise ValueError("throttle + error must not exceed 1")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")

    def specificity(self) -> int:
        return (2 if self.service != "*" else 0) + (1 if self.operation != "*" else 0)

    def matches(self, service: str, operation: str) -> bool:
        return self.service in ("*", service) and self.operation in ("*", operation)

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "operation": self.operation,
            "throttle": self.throttle,
            "error": self.error,
            "latency_ms": self.latency_ms,
        }


# At most this many calls are kept in the optional timeline.
TIMELINE_MAX = 1_000_000


class FaultEngine:
    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self.seed = seed
        self.rules: list[FaultRule] = []
        self._rngs: dict[tuple[str, str], random.Random] = {}
        self.calls: dict[str, int] = {}
        self.faults: dict[str, int] = {}
        # Requests the rate model (ratelimit.py) throttled, by "service:Operation".
        self.rate_limited: dict[str, int] = {}
        # Per (account, region, service): [calls, rate limited, injected faults].
        self.accounts: dict[tuple[str, str, str], list[int]] = {}
        # Optional call timeline (benchmarks): off unless switched on through
        # /_emulator/config {"call_timeline": true}. Each entry is one AWS call:
        # [arrival, done, "service:Operation", fault kind or None], both times
        # time.monotonic() (CLOCK_MONOTONIC on Linux, comparable across processes).
        self.timeline_enabled = False
        self.timeline: list[list[Any]] = []

    def set_rules(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self.rules = list(rules)
            self._rngs.clear()

    def set_seed(self, seed: int) -> None:
        with self._lock:
            self.seed = seed
            self._rngs.clear()

    def reset(self) -> None:
        with self._lock:
            self.rules = []
            self._rngs.clear()
            self.calls.clear()
            self.faults.clear()
            self.rate_limited.clear()
            self.accounts.clear()
            self.timeline.clear()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            out: dict[str, Any] = {
                "calls": dict(sorted(self.calls.items())),
                "faults": dict(sorted(self.faults.items())),
                "total_calls": sum(self.calls.values()),
                "rate_limited": dict(sorted(self.rate_limited.items())),
                "accounts": self._accounts_json(),
            }
            if self.timeline_enabled:
                out["timeline"] = [list(entry) for entry in self.timeline]
            return out

    def _accounts_json(self) -> dict[str, Any]:
        """{account: {region: {service: {calls, accepted, rate_limited, faults}}}}; the
        caller holds the lock."""
        out: dict[str, Any] = {}
        for (account, region, service), (calls, limited, faulted) in sorted(self.accounts.items()):
            out.setdefault(account, {}).setdefault(region, {})[service] = {
                "calls": calls,
                "accepted": calls - limited - faulted,
                "rate_limited": limited,
                "faults": faulted,
            }
        return out

    def _count_account(self, account: str | None, region: str | None, service: str, limited: int, faulted: int) -> None:
        if account is None or region is None:
            return
        counts = self.accounts.get((account, region, service))
        if counts is None:
            counts = [0, 0, 0]
            self.accounts[(account, region, service)] = counts
        counts[0] += 1
        counts[1] += limited
        counts[2] += faulted

    def count_rate_limited(self, service: str, operation: str, account: str, region: str) -> int:
        """Count a call the rate model throttled (it draws no fault); return the latency
        the most specific fault rule gives the operation, in ms."""
        key = f"{service}:{operation}"
        with self._lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            self.rate_limited[key] = self.rate_limited.get(key, 0) + 1
            self._count_account(account, region, service, 1, 0)
            rule = self._rule(service, operation)
            return rule.latency_ms if rule is not None else 0

    def _rule(self, service: str, operation: str) -> FaultRule | None:
        rule = None
        for candidate in self.rules:
            if candidate.matches(service, operation) and (rule is None or candidate.specificity() > rule.specificity()):
                rule = candidate
        return rule

    def set_timeline(self, enabled: bool) -> None:
        """Switch the call timeline on (cleared) or off (dropped)."""
        with self._lock:
            self.timeline_enabled = enabled
            self.timeline.clear()

    def record(self, arrival: float, done: float, service: str, operation: str, kind: str | None) -> None:
        """Append one call to the timeline, if it is on (bounded at TIMELINE_MAX entries)."""
        if not self.timeline_enabled:
            return
        with self._lock:
            if self.timeline_enabled and len(self.timeline) < TIMELINE_MAX:
                self.timeline.append([arrival, done, f"{service}:{operation}", kind])

    def decide(
        self, service: str, operation: str, account: str | None = None, region: str | None = None
    ) -> tuple[str | None, int]:
        """Count the call (and, given its account and region, for them); return (fault kind
        or None, latency in ms)."""
        key = f"{service}:{operation}"
        with self._lock:
            self.calls[key] = self.calls.get(key, 0) + 1
            rule = self._rule(service, operation)
            if rule is None:
                self._count_account(account, region, service, 0, 0)
                return None, 0
            rng = self._rngs.get((service, operation))
            if rng is None:
                rng = random.Random(f"{self.seed}:{service}:{operation}")
                self._rngs[(service, operation)] = rng
            draw = rng.random()
            kind = None
            if draw < rule.throttle:
                kind = "throttle"
            elif draw < rule.throttle + rule.error:
                kind = "error"
            if kind:
                fkey = f"{key}:{kind}"
                self.faults[fkey] = self.faults.get(fkey, 0) + 1
            self._count_account(account, region, service, 0, 1 if kind else 0)
            return kind, rule.latency_ms


# --------------------------------------------------------------------------------------
# Request attribution


_CRED_RE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


def signing_scope(environ: dict[str, Any]) -> tuple[str | None, str | None]:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = _CRED_RE.search(auth)
    if not match:
        return None, None
    return match.group(1), match.group(2)


class _RestMatcher:
    """Maps (method, path) to an operation name using botocore's HTTP bindings."""

    _cache: dict[str, list[tuple[str, re.Pattern[str], int, str]]] = {}
    _lock = threading.Lock()

    @classmethod
    def operation(cls, service: str, method: str, path: str) -> str | None:
        model_name = BOTOCORE_NAMES.get(service)
        if model_name is None:
            return None
        with cls._lock:
            table = cls._cache.get(model_name)
            if table is None:
                table = cls._build(model_name)
                cls._cache[model_name] = table
        best = None
        for http_method, pattern, literal_len, name in table:
            if http_method == method and pattern.fullmatch(path):
                if best is None or literal_len > best[0]:
                    best = (literal_len, name)
        return best[1] if best else None

    @staticmethod
    def _build(model_name: str) -> list[tuple[str, re.Pattern[str], int, str]]:
        from moto.core.utils import get_service_model

        model = get_service_model(model_name)
        table = []
        for name in model.operation_names:
            http = model.operation_model(name).http
            uri = http.get("requestUri", "/").split("?", 1)[0]
            regex = ""
            literal = 0
            for piece in re.split(r"(\{[^}]+\})", uri):
                if piece.startswith("{"):
                    regex += ".+" if piece.endswith("+}") else "[^/]+"
                else:
                    regex += re.escape(piece)
                    literal += len(piece)
            table.append((http.get("method", "POST"), re.compile(regex + "/?"), literal, name))
        return table


def attribute(environ: dict[str, Any], body: bytes) -> tuple[str, str, str] | None:
    """Return (service, operation, region) for an AWS request, None for anything else."""
    region, signing = signing_scope(environ)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if signing is None and not target:
        return None
    service = canonical_service(signing or target.split("_")[0].split(".")[0])
    operation = None
    if target and "." in target:
        operation = target.rsplit(".", 1)[1]
    if operation is None:
        ctype = environ.get("CONTENT_TYPE", "")
        params = parse_qs(environ.get("QUERY_STRING", ""))
        if ctype.startswith("application/x-www-form-urlencoded") and body:
            params.update(parse_qs(body.decode("utf-8", "replace")))
        if "Action" in params:
            operation = params["Action"][0]
    if operation is None:
        operation = _RestMatcher.operation(
            service, environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        )
    if operation is None:
        operation = f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"
    return service, operation, region or "us-east-1"


# --------------------------------------------------------------------------------------
# Error rendering


def error_response(service: str, kind: str) -> tuple[int, list[tuple[str, str]], bytes]:
    if kind == "throttle":
        code, status = THROTTLE_CODES.get(service, DEFAULT_THROTTLE)
        message = "Rate exceeded"
    else:
        code, status = ERROR_CODES.get(service, DEFAULT_ERROR)
        message = "We encountered an internal error. Please try again."
    request_id = str(uuid.uuid4())
    protocol = PROTOCOLS.get(service, "json")
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", code)]
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message, "Message": message})
        headers.append(("Content-Type", "application/x-amz-json-1.1"))
        if service == "sqs":
            sender = "Sender" if status < 500 else "Receiver"
            headers.append(("x-amzn-query-error", f"{code};{sender}"))
    elif protocol == "rest-json":
        body = json.dumps({"message": message, "Message": message})
        headers.append(("Content-Type", "application/json"))
    elif protocol == "ec2":
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>"
            f"<Message>{message}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
        headers = [("Content-Type", "text/xml")]
    elif protocol == "rest-xml":
        body = (
            f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        )
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    else:  # query
        sender = "Sender" if status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{sender}</Type><Code>{code}</Code><Message>{message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    return status, headers, body.encode("utf-8")


def sleep_ms(ms: int) -> None:
    if ms > 0:
        time.sleep(ms / 1000.0)
