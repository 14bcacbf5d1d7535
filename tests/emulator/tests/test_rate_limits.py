"""The request-rate model (ratelimit.py; README "Request rates"): a token bucket per
(service, account, region), answered as AWS answers a throttled call, off by default,
cleared by reset; and the per-account call statistics a benchmark reads.

    WARDEN_PYTHON -m pytest -q tests/emulator/tests/test_rate_limits.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import RetryEventAdapter, ThrottlingErrorDetector

from conftest import EMULATOR, REGION, Emu

A = "222222222222"
B = "333333333333"
# Refills one token in 100 s: nothing refills while a test runs, however loaded the machine.
FROZEN = 0.01


def limit(emu: Emu, **services: dict[str, Any]) -> None:
    emu.ok("/_emulator/config", {"rate_limits": services})


def outcome(call: Any, **kwargs: Any) -> str:
    """"ok" or the error code of one call (the client makes one attempt)."""
    try:
        call(**kwargs)
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def burst(client: Any, n: int) -> list[str]:
    return [outcome(client.list_domains) for _ in range(n)]


def account_stats(emu: Emu) -> dict[str, Any]:
    status, stats = emu.control("/_emulator/stats", method="GET")
    assert status == 200
    return stats["accounts"]


# ------------------------------------------------------------------ off by default, reset


def test_rate_limits_are_off_by_default(emu: Emu) -> None:
    status, cfg = emu.control("/_emulator/config", method="GET")
    assert status == 200 and cfg["rate_limits"] == {}
    assert burst(emu.client("sagemaker", account=A), 30) == ["ok"] * 30
    status, stats = emu.control("/_emulator/stats", method="GET")
    assert stats["rate_limited"] == {}
    assert "rate_limit_buckets" not in stats
    assert stats["accounts"][A][REGION]["sagemaker"] == {"calls": 30, "accepted": 30, "rate_limited": 0, "faults": 0}


def test_reset_clears_the_rate_limits(emu: Emu) -> None:
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 2})
    sm = emu.client("sagemaker", account=A)
    assert burst(sm, 3) == ["ok", "ok", "ThrottlingException"]
    emu.ok("/_emulator/reset")
    status, cfg = emu.control("/_emulator/config", method="GET")
    assert cfg["rate_limits"] == {}
    assert burst(sm, 10) == ["ok"] * 10
    assert account_stats(emu)[A][REGION]["sagemaker"]["rate_limited"] == 0


def test_setting_the_limits_again_starts_every_bucket_full(emu: Emu) -> None:
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 2})
    sm = emu.client("sagemaker", account=A)
    assert burst(sm, 3) == ["ok", "ok", "ThrottlingException"]
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 2})
    assert burst(sm, 3) == ["ok", "ok", "ThrottlingException"]
    limit(emu)  # {}: off
    assert burst(sm, 5) == ["ok"] * 5


@pytest.mark.parametrize(
    "rate_limits",
    [
        {"sagemaker": {"per_second": 0}},
        {"sagemaker": {"per_second": -1}},
        {"sagemaker": {"per_second": "8"}},
        {"sagemaker": {"burst": 8}},
        {"sagemaker": {"per_second": 8, "burst": 0.5}},
        {"sagemaker": {"per_second": 8, "per_operation": "yes"}},
        {"sagemaker": {"per_second": 8, "bucket": 8}},
        {"sagemaker": 8},
        ["sagemaker"],
    ],
)
def test_a_malformed_rate_limit_is_refused_and_changes_nothing(emu: Emu, rate_limits: Any) -> None:
    limit(emu, ec2={"per_second": 5})
    status, body = emu.control("/_emulator/config", {"rate_limits": rate_limits})
    assert status == 400, body
    status, cfg = emu.control("/_emulator/config", method="GET")
    assert cfg["rate_limits"] == {"ec2": {"per_second": 5.0, "burst": 5.0, "per_operation": True}}


# ------------------------------------------------------------------ one bucket per account and region


def test_each_account_has_its_own_bucket(emu: Emu) -> None:
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 3})
    in_a = emu.client("sagemaker", account=A)
    in_b = emu.client("sagemaker", account=B)
    assert burst(in_a, 5) == ["ok"] * 3 + ["ThrottlingException"] * 2
    # A's exhausted bucket does not throttle B.
    assert burst(in_b, 4) == ["ok"] * 3 + ["ThrottlingException"]
    stats = account_stats(emu)
    assert stats[A][REGION]["sagemaker"] == {"calls": 5, "accepted": 3, "rate_limited": 2, "faults": 0}
    assert stats[B][REGION]["sagemaker"] == {"calls": 4, "accepted": 3, "rate_limited": 1, "faults": 0}


def test_each_region_has_its_own_bucket(emu: Emu) -> None:
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 2})
    east = emu.client("sagemaker", account=A, region="us-east-1")
    west = emu.client("sagemaker", account=A, region="eu-west-1")
    assert burst(east, 3) == ["ok", "ok", "ThrottlingException"]
    assert burst(west, 3) == ["ok", "ok", "ThrottlingException"]
    stats = account_stats(emu)[A]
    assert stats["us-east-1"]["sagemaker"]["rate_limited"] == 1
    assert stats["eu-west-1"]["sagemaker"]["rate_limited"] == 1


def test_sagemaker_operations_share_their_accounts_bucket(emu: Emu) -> None:
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 2})
    sm = emu.client("sagemaker", account=A)
    assert outcome(sm.list_domains) == "ok"
    assert outcome(sm.list_user_profiles) == "ok"
    assert outcome(sm.list_apps) == "ThrottlingException"
    assert outcome(sm.list_domains) == "ThrottlingException"


def test_other_services_are_not_limited_by_sagemakers_bucket(emu: Emu) -> None:
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 1})
    assert burst(emu.client("sagemaker", account=A), 2) == ["ok", "ThrottlingException"]
    ddb = emu.client("dynamodb", account=A)
    assert [outcome(ddb.list_tables) for _ in range(5)] == ["ok"] * 5


def test_ec2_has_a_bucket_per_api_action_unless_told_otherwise(emu: Emu) -> None:
    limit(emu, ec2={"per_second": FROZEN, "burst": 1})
    ec2 = emu.client("ec2", account=A)
    assert [outcome(ec2.describe_vpcs) for _ in range(2)] == ["ok", "RequestLimitExceeded"]
    # EC2 documents one bucket per API action: DescribeSubnets has its own.
    assert outcome(ec2.describe_subnets) == "ok"
    limit(emu, ec2={"per_second": FROZEN, "burst": 1, "per_operation": False})
    assert outcome(ec2.describe_vpcs) == "ok"
    assert outcome(ec2.describe_subnets) == "RequestLimitExceeded"


# ------------------------------------------------------------------ what a throttled call looks like


def test_a_throttled_sagemaker_call_is_what_aws_answers_and_botocore_calls_it_throttling(emu: Emu) -> None:
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 1})
    sm = emu.client("sagemaker", account=A)  # retries off: one attempt
    seen: list[dict[str, Any]] = []
    sm.meta.events.register("needs-retry.sagemaker.ListDomains", lambda **kw: seen.append(kw))
    sm.list_domains()
    with pytest.raises(ClientError) as info:
        sm.list_domains()
    response = info.value.response
    assert response["Error"]["Code"] == "ThrottlingException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-errortype"] == "ThrottlingException"
    assert headers["content-type"] == "application/x-amz-json-1.1"
    http_response, _parsed = seen[-1]["response"]
    body = json.loads(http_response.content)
    assert body["__type"] == "ThrottlingException" and body["message"]
    # botocore's own throttling detection (standard retry mode) on the real response ...
    detector = ThrottlingErrorDetector(RetryEventAdapter())
    assert detector.is_throttling_error(**seen[-1])
    assert not detector.is_throttling_error(**seen[0])


@pytest.mark.parametrize("mode", ["standard", "legacy"])
def test_botocore_retries_a_rate_limited_call(emu: Emu, mode: str) -> None:
    # ... and both retry modes (standard: the throttling checker; legacy: _retry.json's
    # "throttling_exception", ThrottlingException with HTTP 400) retry it.
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 1})
    sm = boto3.client(
        "sagemaker",
        endpoint_url=emu.url,
        region_name=REGION,
        aws_access_key_id=A,
        aws_secret_access_key="test",
        config=botocore.config.Config(retries={"total_max_attempts": 3, "mode": mode}),
    )
    sm.list_domains()
    with pytest.raises(ClientError) as info:
        sm.list_domains()
    assert info.value.response["Error"]["Code"] == "ThrottlingException"
    assert info.value.response["ResponseMetadata"]["RetryAttempts"] == 2
    assert account_stats(emu)[A][REGION]["sagemaker"] == {"calls": 4, "accepted": 1, "rate_limited": 3, "faults": 0}


def test_a_throttled_ec2_call_is_request_limit_exceeded_and_botocore_calls_it_throttling(emu: Emu) -> None:
    limit(emu, ec2={"per_second": FROZEN, "burst": 1})
    ec2 = emu.client("ec2", account=A)
    seen: list[dict[str, Any]] = []
    ec2.meta.events.register("needs-retry.ec2.DescribeVpcs", lambda **kw: seen.append(kw))
    ec2.describe_vpcs()
    with pytest.raises(ClientError) as info:
        ec2.describe_vpcs()
    assert info.value.response["Error"]["Code"] == "RequestLimitExceeded"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    assert ThrottlingErrorDetector(RetryEventAdapter()).is_throttling_error(**seen[-1])


def test_the_call_timeline_marks_rate_limited_calls(emu: Emu) -> None:
    emu.ok("/_emulator/config", {"call_timeline": True})
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 1})
    burst(emu.client("sagemaker", account=A), 2)
    status, stats = emu.control("/_emulator/stats", method="GET")
    assert [(c[2], c[3]) for c in stats["timeline"]] == [
        ("sagemaker:ListDomains", None),
        ("sagemaker:ListDomains", "rate_limit"),
    ]
    assert stats["rate_limited"] == {"sagemaker:ListDomains": 1}
    assert stats["faults"] == {}
    emu.ok("/_emulator/config", {"call_timeline": False})


def test_injected_faults_and_rate_limits_are_counted_apart(emu: Emu) -> None:
    limit(emu, sagemaker={"per_second": FROZEN, "burst": 2})
    emu.ok("/_emulator/faults", [{"service": "sagemaker", "operation": "ListDomains", "error": 1.0}])
    assert burst(emu.client("sagemaker", account=A), 3) == ["InternalFailure", "InternalFailure", "ThrottlingException"]
    assert account_stats(emu)[A][REGION]["sagemaker"] == {"calls": 3, "accepted": 0, "rate_limited": 1, "faults": 2}


# ------------------------------------------------------------------ the rate itself


def test_accepted_calls_never_exceed_burst_plus_rate_times_elapsed(emu: Emu) -> None:
    per_second, capacity, threads, seconds = 8.0, 8.0, 4, 2.5
    limit(emu, sagemaker={"per_second": per_second, "burst": capacity})
    clients = [emu.client("sagemaker", account=A) for _ in range(threads)]
    for other in (B,):
        clients.append(emu.client("sagemaker", account=other))  # a busy neighbour
    results: list[list[str]] = [[] for _ in clients]
    start = time.monotonic()

    def hammer(i: int) -> None:
        while time.monotonic() - start < seconds:
            results[i].append(outcome(clients[i].list_domains))

    workers = [threading.Thread(target=hammer, args=(i,)) for i in range(len(clients))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - start
    mine = [r for rs in results[:threads] for r in rs]
    accepted = mine.count("ok")
    assert set(mine) <= {"ok", "ThrottlingException"}
    # A token bucket guarantees this bound whatever the load; without the model, two
    # cores answer hundreds of ListDomains in 2.5 s.
    assert capacity <= accepted <= capacity + per_second * elapsed, (accepted, len(mine), elapsed)
    assert mine.count("ThrottlingException") > 0
    # The neighbour's bucket is its own.
    neighbour = results[threads]
    assert neighbour[: int(capacity)] == ["ok"] * min(len(neighbour), int(capacity))
    stats = account_stats(emu)
    assert stats[A][REGION]["sagemaker"] == {
        "calls": len(mine),
        "accepted": accepted,
        "rate_limited": len(mine) - accepted,
        "faults": 0,
    }
    status, full = emu.control("/_emulator/stats", method="GET")
    (bucket,) = [b for b in full["rate_limit_buckets"] if b["account"] == A]
    assert bucket["admitted"] == accepted and bucket["throttled"] == len(mine) - accepted
    assert bucket["min_seconds"] == pytest.approx(max(0.0, accepted - capacity) / per_second)
    assert bucket["min_seconds"] <= elapsed


# ------------------------------------------------------------------ the command line


def test_the_rate_limit_flag_sets_a_limit_at_start_up() -> None:
    proc = subprocess.Popen(
        [sys.executable, EMULATOR, "--port", "0", "--rate-limit", f"sagemaker:{FROZEN}:2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("EMULATOR READY "), line
        emu = Emu(line.split()[-1], proc)
        status, cfg = emu.control("/_emulator/config", method="GET")
        assert cfg["rate_limits"] == {"sagemaker": {"per_second": FROZEN, "burst": 2.0, "per_operation": False}}
        assert burst(emu.client("sagemaker", account=A), 3) == ["ok", "ok", "ThrottlingException"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_a_malformed_rate_limit_flag_is_refused() -> None:
    done = subprocess.run(
        [sys.executable, EMULATOR, "--port", "0", "--rate-limit", "sagemaker:fast"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "EMULATOR READY" not in done.stdout
