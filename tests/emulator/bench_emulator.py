#!/usr/bin/env python3
"""A load driver for the emulator: the request mix of ``bench_org`` (tests/src/bin/bench_org.rs)
without the product, to measure (and profile) the emulator alone.

    /work/venv/bin/python tests/emulator/bench_emulator.py --accounts 10 --users 300 --threads 8
    /work/venv/bin/python tests/emulator/bench_emulator.py ... --cprofile /tmp/emu.prof

It starts its own emulator on a free port (as tests/conftest.py does: ``--status-delay
0.05``; bench_org's settings: a quota of 200,000 profiles, ``fast_transactions``), and stops
it at the end. Then:

1. set-up (not timed): the ledger table in the hub account 123456789012 (us-east-1, the
   schema of tests/src/fixture.rs ``create_ledger_table``), a FIFO queue, and per workload
   account (``2000000000NN``, alternately eu-west-1 and us-west-2) the spoke role (IAM
   CreateRole acting in that account, trusting the hub's root) and, through AssumeRole'd
   credentials of it, one IAM-mode domain;
2. the onboarding (timed): K x U users, interleaved over the accounts, taken by ``--threads``
   threads; per user, as the product's onboarding does (shared/src/adapters/sagemaker.rs and
   dynamodb.rs): CreateUserProfile with the managed tags and UserSettings, through the
   account's spoke credentials (each thread assumes each spoke role once, as a worker caches
   its credentials); the ledger TransactWriteItems (the record, version 1, and a history row,
   both ``attribute_not_exists(pk)``); one PutItem (the record again, version 2, conditional
   on version 1). The threads' clients (and their AssumeRole calls) are made before the
   clock starts;
3. the sweep (timed): per domain DescribeDomain, every page of ListUserProfiles (100 a page),
   the ledger Query of the domain's records, and an SQS FIFO SendMessage / ReceiveMessage /
   DeleteMessage.

With ``--directory`` it runs instead the sweep's directory read alone: K groups and K x U
users seeded in the Identity Center account (user j in group j % K), then every page of
ListUsers and of each group's ListGroupMemberships (100 a page, one after the other, as
the coordinator's reads arrive at the emulator's request lock), timed per operation with the
emulator's CPU.

It prints requests/s and profiles/s over the whole onboarding, over its first and its last
``--window`` requests (to show whether the rate falls as profiles accumulate), the sweep's
rate, and the emulator process's CPU seconds. ``--cprofile FILE`` runs the emulator with
every request under cProfile (per request thread, by thread CPU time, merged) and writes the
pstats file at the end (the profiler slows the emulator: compare rates only between runs with the same flag).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from typing import Any

import boto3
import botocore.config

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "emulator.py")
HUB = "123456789012"
HUB_REGION = "us-east-1"
TABLE = "ledger"
QUEUE = "bench-work.fifo"
ROLE = "studio-warden-spoke"
STORE = "d-9067c0ffee"  # the emulator's Identity Center instance's identity store

# Runs emulator.py with each request's handling under cProfile (one profiler per request:
# cProfile sees only the thread that enabled it), timed by the thread's CPU clock (so that
# waiting for the request lock or the GIL is not counted), merged into one pstats file on a
# POST /_bench/profile-dump, which the driver sends before it stops the emulator.
_PROFILED_MAIN = r"""
import cProfile, pstats, sys, threading, time
sys.path.insert(0, {here!r})
sys.argv = [{emulator!r}] + {args!r}
import emulator
_merged = None
_lock = threading.Lock()
_original = emulator.Emulator.__call__

def _call(self, environ, start_response):
    global _merged
    if environ.get("PATH_INFO") == "/_bench/profile-dump":
        with _lock:
            if _merged is not None:
                _merged.dump_stats({out!r})
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{{}}"]
    prof = cProfile.Profile(time.thread_time)
    prof.enable()
    try:
        result = list(_original(self, environ, start_response))
    finally:
        prof.disable()
    with _lock:
        if _merged is None:
            _merged = pstats.Stats(prof)
        else:
            _merged.add(prof)
    return result

emulator.Emulator.__call__ = _call
sys.exit(emulator.main())
"""


def account(a: int) -> str:
    return f"{200_000_000_000 + a:012d}"


def region(a: int) -> str:
    return "eu-west-1" if a % 2 == 0 else "us-west-2"


class Emulator:
    def __init__(self, cprofile: str | None) -> None:
        args = ["--port", "0", "--status-delay", "0.05", "--profile-quota", "200000"]
        if cprofile:
            code = _PROFILED_MAIN.format(here=HERE, emulator=EMULATOR, args=args, out=os.path.abspath(cprofile))
            cmd = [sys.executable, "-c", code]
        else:
            cmd = [sys.executable, EMULATOR, *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("EMULATOR READY "):
            self.stop()
            raise RuntimeError(f"emulator did not start: {line!r}")
        self.url = line.split()[-1]

    def control(self, path: str, payload: Any) -> Any:
        req = urllib.request.Request(self.url + path, data=json.dumps(payload).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.loads(resp.read() or b"null")

    def cpu_seconds(self) -> float:
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def client(
    url: str,
    service: str,
    region_name: str,
    creds: dict[str, str] | None = None,
    key: str = "test",
    session: Any = None,
) -> Any:
    keys = (
        {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
        if creds
        else {"aws_access_key_id": key, "aws_secret_access_key": "test"}
    )
    return (session or boto3.session.Session()).client(
        service,
        endpoint_url=url,
        region_name=region_name,
        **keys,
        config=botocore.config.Config(retries={"total_max_attempts": 1}, max_pool_connections=4),
    )


def create_ledger_table(ddb: Any) -> None:
    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
    )


def spoke_credentials(url: str, a: int, session: Any = None) -> dict[str, str]:
    sts = client(url, "sts", HUB_REGION, key=HUB, session=session)
    return sts.assume_role(RoleArn=f"arn:aws:iam::{account(a)}:role/{ROLE}", RoleSessionName=f"bench-{a}")[
        "Credentials"
    ]


def record_item(domain: str, user: str, version: int) -> dict[str, Any]:
    """The ledger's UserRecord row, about as the product serialises it (serde_dynamo)."""
    return {
        "pk": {"S": f"DOMAIN#{domain}"},
        "sk": {"S": f"USER#{user}"},
        "domain": {"S": domain},
        "user": {"S": user},
        "profile": {"S": user},
        "state": {"S": "Active"},
        "version": {"N": str(version)},
        "groups": {"L": [{"S": "bench-group"}]},
        "template": {"M": {"execution_role": {"S": "arn:aws:iam::000000000000:role/bench"}}},
        "updated_at": {"N": str(int(time.time() * 1000))},
    }


def history_item(user: str) -> dict[str, Any]:
    return {
        "pk": {"S": f"USER#{user}"},
        "sk": {"S": f"HIST#{uuid.uuid4().hex.upper()}"},
        "user": {"S": user},
        "action": {"S": "Onboarded"},
        "at": {"N": str(int(time.time() * 1000))},
        "detail": {"S": "created user profile"},
    }


def profile_tags(user: str) -> list[dict[str, str]]:
    return [
        {"Key": "studio-warden:managed", "Value": "true"},
        {"Key": "studio-warden:user-id", "Value": user},
        {"Key": "team", "Value": "bench"},
    ]


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done: list[tuple[float, str]] = []  # (completion time, operation)
        self.errors: dict[str, int] = {}
        self.seconds: dict[str, float] = {}  # wall time per operation

    def call(self, operation: str, fn: Any, **kwargs: Any) -> Any:
        began = time.monotonic()
        try:
            out = fn(**kwargs)
        except Exception as exc:  # counted and reported, the run goes on
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            with self.lock:
                self.errors[f"{operation}:{code}"] = self.errors.get(f"{operation}:{code}", 0) + 1
            out = None
        ended = time.monotonic()
        with self.lock:
            self.done.append((ended, operation))
            self.seconds[operation] = self.seconds.get(operation, 0.0) + ended - began
        return out


    def listed(self, operation: str, fn: Any, key: str, **kwargs: Any) -> int:
        """Every page of a listing (100 a page), each call recorded; returns the items listed."""
        items = 0
        token = None
        while True:
            page = self.call(operation, fn, MaxResults=100, **kwargs, **({"NextToken": token} if token else {})) or {}
            items += len(page.get(key, []))
            token = page.get("NextToken")
            if not token:
                return items


def rate(events: list[tuple[float, str]], start: float) -> tuple[float, float]:
    """(requests/s, profiles/s) over the events, timed from ``start``."""
    if not events:
        return 0.0, 0.0
    span = max(events[-1][0] - start, 1e-9)
    profiles = sum(1 for _, op in events if op == "CreateUserProfile")
    return len(events) / span, profiles / span


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=10)
    parser.add_argument("--users", type=int, default=100, help="users (profiles) per account")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--window", type=int, default=1000, help="requests in the first/last window")
    parser.add_argument("--cprofile", metavar="FILE", help="profile the emulator's request handling into FILE")
    parser.add_argument("--directory", action="store_true", help="time only the directory read (ListUsers, ListGroupMemberships)")
    args = parser.parse_args(argv)

    emu = Emulator(args.cprofile)
    try:
        return directory(emu, args) if args.directory else run(emu, args)
    finally:
        emu.stop()


def directory(emu: Emulator, args: argparse.Namespace) -> int:
    """The sweep's directory read: every user, and every group's members."""
    seeded = emu.control(
        "/_emulator/identitystore/seed",
        {"IdentityStoreId": STORE, "Groups": [f"bench-{a:02d}" for a in range(args.accounts)], "Users": args.accounts * args.users, "Prefix": "bench-"},
    )
    ids = client(emu.url, "identitystore", HUB_REGION, key=HUB)
    rec = Recorder()
    cpu0 = emu.cpu_seconds()
    users = rec.listed("ListUsers", ids.list_users, "Users", IdentityStoreId=STORE)
    cpu1 = emu.cpu_seconds()
    members = sum(
        rec.listed("ListGroupMemberships", ids.list_group_memberships, "GroupMemberships", IdentityStoreId=STORE, GroupId=group)
        for group in seeded["groups"].values()
    )
    cpu2 = emu.cpu_seconds()
    calls = {op: sum(1 for _, name in rec.done if name == op) for op in ("ListUsers", "ListGroupMemberships")}
    print(f"directory: {args.accounts} groups, {args.accounts * args.users} users")
    for op, n, cpu in (("ListUsers", users, cpu1 - cpu0), ("ListGroupMemberships", members, cpu2 - cpu1)):
        pages = max(calls[op], 1)
        print(f"  {op}: {n} listed in {calls[op]} pages, {rec.seconds.get(op, 0.0):.2f} s ({1000 * rec.seconds.get(op, 0.0) / pages:.1f} ms a page); emulator CPU {cpu:.2f} s ({1000 * cpu / pages:.1f} ms a page)")
    print(f"errors: {rec.errors or 'none'}")
    expected = args.accounts * args.users
    return 0 if not rec.errors and users == expected and members == expected else 1


def run(emu: Emulator, args: argparse.Namespace) -> int:
    url = emu.url
    emu.control("/_emulator/config", {"fast_transactions": True})
    hub_ddb = client(url, "dynamodb", HUB_REGION, key=HUB)
    create_ledger_table(hub_ddb)
    sqs = client(url, "sqs", HUB_REGION, key=HUB)
    queue_url = sqs.create_queue(QueueName=QUEUE, Attributes={"FifoQueue": "true", "VisibilityTimeout": "20"})[
        "QueueUrl"
    ]
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{HUB}:root"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    domains: list[str] = []
    for a in range(args.accounts):
        client(url, "iam", HUB_REGION, key=account(a)).create_role(RoleName=ROLE, AssumeRolePolicyDocument=trust)
        sm = client(url, "sagemaker", region(a), creds=spoke_credentials(url, a))
        domains.append(
            sm.create_domain(
                DomainName=f"bench-{a}",
                AuthMode="IAM",
                DefaultUserSettings={"ExecutionRole": f"arn:aws:iam::{account(a)}:role/bench"},
                SubnetIds=["subnet-0a1b2c3d4e5f60001"],
                VpcId="vpc-0a1b2c3d4e5f60001",
            )["DomainId"]
        )

    work: queue.Queue[tuple[int, int] | None] = queue.Queue()
    for u in range(args.users):
        for a in range(args.accounts):
            work.put((a, u))
    for _ in range(args.threads):
        work.put(None)
    rec = Recorder()

    # Each thread's clients, made before the clock starts (a boto3 client costs the driver
    # tenths of a second of CPU): the hub's DynamoDB client and, per account, a SageMaker
    # client with that thread's own AssumeRole'd spoke credentials (a worker caches them).
    def clients() -> tuple[Any, dict[int, Any]]:
        session = boto3.session.Session()
        spokes = {
            a: client(url, "sagemaker", region(a), creds=spoke_credentials(url, a, session), session=session)
            for a in range(args.accounts)
        }
        return client(url, "dynamodb", HUB_REGION, key=HUB, session=session), spokes

    per_thread = [clients() for _ in range(args.threads)]

    def worker(ddb: Any, spokes: dict[int, Any]) -> None:
        while True:
            item = work.get()
            if item is None:
                return
            a, u = item
            user = f"bench-{a:02d}-user-{u:05d}"
            rec.call(
                "CreateUserProfile",
                spokes[a].create_user_profile,
                DomainId=domains[a],
                UserProfileName=user,
                Tags=profile_tags(user),
                UserSettings={
                    "ExecutionRole": f"arn:aws:iam::{account(a)}:role/bench",
                    "SecurityGroups": ["sg-0a1b2c3d4e5f60001"],
                },
            )
            rec.call(
                "TransactWriteItems",
                ddb.transact_write_items,
                TransactItems=[
                    {
                        "Put": {
                            "TableName": TABLE,
                            "Item": record_item(domains[a], user, 1),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": TABLE,
                            "Item": history_item(user),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ],
                ClientRequestToken=str(uuid.uuid4()),
            )
            rec.call(
                "PutItem",
                ddb.put_item,
                TableName=TABLE,
                Item=record_item(domains[a], user, 2),
                ConditionExpression="version = :previous",
                ExpressionAttributeValues={":previous": {"N": "1"}},
            )

    cpu0 = emu.cpu_seconds()
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=pair) for pair in per_thread]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    onboard = list(rec.done)
    cpu1 = emu.cpu_seconds()

    # The sweep: per domain, as the coordinator and a worker read it.
    sweep = Recorder()
    sweep_started = time.monotonic()
    listed = 0
    for a, domain in enumerate(domains):
        sm = per_thread[0][1][a]
        sweep.call("DescribeDomain", sm.describe_domain, DomainId=domain)
        listed += sweep.listed("ListUserProfiles", sm.list_user_profiles, "UserProfiles", DomainIdEquals=domain)
        sweep.call(
            "Query",
            hub_ddb.query,
            TableName=TABLE,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": {"S": f"DOMAIN#{domain}"}, ":prefix": {"S": "USER#"}},
            ConsistentRead=True,
        )
        sweep.call(
            "SendMessage",
            sqs.send_message,
            QueueUrl=queue_url,
            MessageBody=json.dumps({"domain": domain}),
            MessageGroupId=domain,
            MessageDeduplicationId=f"{domain}-{time.monotonic_ns()}",
        )
        got = sweep.call("ReceiveMessage", sqs.receive_message, QueueUrl=queue_url, MaxNumberOfMessages=1) or {}
        for message in got.get("Messages", []):
            sweep.call("DeleteMessage", sqs.delete_message, QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    cpu2 = emu.cpu_seconds()

    total = len(onboard)
    req_s, prof_s = rate(onboard, started)
    w = min(args.window, total // 2) or total
    first_req, first_prof = rate(onboard[:w], started)
    last_req, last_prof = rate(onboard[-w:], onboard[-w - 1][0] if total > w else started)
    sweep_req, _ = rate(sweep.done, sweep_started)
    wall = onboard[-1][0] - started if onboard else 0.0
    print(f"accounts={args.accounts} users/account={args.users} threads={args.threads} profiles={args.accounts * args.users}")
    print(f"onboarding: {total} requests in {wall:.1f} s: {req_s:.1f} requests/s, {prof_s:.1f} profiles/s; emulator CPU {cpu1 - cpu0:.1f} s ({100 * (cpu1 - cpu0) / max(wall, 1e-9):.0f}%, {1000 * (cpu1 - cpu0) / max(total, 1):.2f} ms a request)")
    print(f"  first {w} requests: {first_req:.1f} requests/s, {first_prof:.1f} profiles/s")
    print(f"  last {w} requests:  {last_req:.1f} requests/s, {last_prof:.1f} profiles/s")
    print(f"sweep: {len(sweep.done)} requests in {sweep.done[-1][0] - sweep_started if sweep.done else 0:.1f} s: {sweep_req:.1f} requests/s, {listed} profiles listed; emulator CPU {cpu2 - cpu1:.1f} s")
    print("  sweep seconds by operation: " + ", ".join(f"{k} {v:.2f}" for k, v in sorted(sweep.seconds.items())))
    errors = {**rec.errors, **{f"sweep {k}": v for k, v in sweep.errors.items()}}
    print(f"errors: {errors or 'none'}")
    if args.cprofile:
        urllib.request.urlopen(urllib.request.Request(url + "/_bench/profile-dump", data=b"{}", method="POST"), timeout=600).read()
        print(f"cProfile of the emulator's request handling: {args.cprofile}")
    expected = args.accounts * args.users
    return 0 if not errors and listed == expected else 1


if __name__ == "__main__":
    sys.exit(main())
