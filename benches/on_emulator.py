#!/usr/bin/env python3
"""Release Lambda binaries against a local Lambda Runtime API *and* the local AWS emulator.

Two measurements (BENCHMARKS.md, issue 6):

  event   Per-event overhead of membership-sync, from receipt to the CreateUserProfile call.
          Seeds the emulator with one Identity Store group (mapped by id to one SageMaker
          domain) and N users in it, then hands the release binary identitystore
          CreateGroupMembership events (events/identitystore-CreateGroupMembership.json with
          the seeded ids), a new user each time. The clock starts when the harness has
          written the event as the answer to GET /2018-06-01/runtime/invocation/next and stops
          when the emulator receives CreateUserProfile (the emulator's optional call
          timeline; both sides use time.monotonic(), CLOCK_MONOTONIC, comparable across
          processes). "cold": a fresh process per event (the event is its first);
          "warm": further events to the same process.

  sweep   Peak RSS (VmHWM) of compliance-sweep during a large {"mode":"apply"} sweep: N users
          in G groups mapped to D domains (user j in group j % G, group g to domain g % D, as
          tests/src/bin/bench_sweep.rs). One process runs the create-everything sweep; once
          the statuses have settled, a second one records them; then a fresh process runs the
          no-change sweep. VmHWM is read from /proc/<pid>/status after each has answered.

The emulator runs in its own process group and is killed (and reaped) at the end, also on an
error or Ctrl-C; so is every function process. Standard library only (the emulator itself
needs the venv's moto: --python, default $WARDEN_PYTHON or .venv/bin/python).

  python3 benches/on_emulator.py event --runs 30 --json /tmp/event.json
  python3 benches/on_emulator.py sweep --users 10000 --json /tmp/sweep.json
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from coldstart import ROOT, lambda_env, pct, vm_hwm_kb  # noqa: E402

API = "/2018-06-01/runtime"
STORE = "d-9067c0ffee"
EVENT_TEMPLATE = ROOT / "events" / "identitystore-CreateGroupMembership.json"


# --------------------------------------------------------------------------------------
# The emulator


class EmulatorProcess:
    """tests/emulator/emulator.py on a free port, in its own process group."""

    def __init__(self, python: Path, status_delay: float, profile_quota: int, log) -> None:
        self.proc = subprocess.Popen(
            [str(python), str(ROOT / "tests" / "emulator" / "emulator.py"), "--host", "127.0.0.1",
             "--port", "0", "--status-delay", str(status_delay), "--profile-quota",
             str(profile_quota), "--parent-pid", str(os.getpid())],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"},
            start_new_session=True,
        )
        self.log = log
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline().decode()),
                                  daemon=True)
        reader.start()
        reader.join(60)
        if not line or not line[0].startswith("EMULATOR READY "):
            self.kill()
            log.seek(0)
            raise RuntimeError(f"emulator did not start ({line!r}); stderr:\n"
                               f"{log.read()[-3000:].decode(errors='replace')}")
        self.endpoint = line[0].split(" ", 2)[2].strip()

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    # -- raw requests -------------------------------------------------------------
    def control(self, method: str, path: str, payload=None) -> dict:
        data = None if payload is None else json.dumps(payload).encode()
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.loads(resp.read() or b"null")

    def aws(self, service: str, target: str, payload: dict, json_version: str = "1.1") -> dict:
        """A JSON-protocol AWS call. moto does not check signatures; the emulator takes the
        service from the credential scope and the operation from X-Amz-Target."""
        day = time.strftime("%Y%m%d", time.gmtime())
        req = urllib.request.Request(
            self.endpoint + "/", data=json.dumps(payload).encode(), method="POST",
            headers={
                "Content-Type": f"application/x-amz-json-{json_version}",
                "X-Amz-Target": target,
                "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDBENCHEXAMPLE0001/{day}/us-east-1/"
                                 f"{service}/aws4_request, SignedHeaders=host, Signature=00",
            })
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"{target}: {e.code} {e.read()[:500]!r}") from None

    # -- set-up -------------------------------------------------------------------
    def create_table(self, name: str) -> None:
        self.aws("dynamodb", "DynamoDB_20120810.CreateTable", {
            "TableName": name, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}],
        }, json_version="1.0")

    def create_domain(self, name: str) -> str:
        out = self.aws("sagemaker", "SageMaker.CreateDomain", {
            "DomainName": name, "AuthMode": "IAM",
            "DefaultUserSettings": {"ExecutionRole": "arn:aws:iam::123456789012:role/bench"},
            "SubnetIds": ["subnet-0a1b2c3d4e5f60001"], "VpcId": "vpc-0a1b2c3d4e5f60001",
        })
        return out["DomainArn"].rsplit("/", 1)[1]

    def seed(self, groups: list[str], users: int) -> tuple[dict, list[str]]:
        out = self.control("POST", "/_emulator/identitystore/seed", {
            "IdentityStoreId": STORE, "Groups": groups, "Users": users, "Prefix": "bench-user-"})
        return out["groups"], out["users"]

    def timeline(self) -> list:
        return self.control("GET", "/_emulator/stats").get("timeline", [])


def write_policy(path: Path, domains: list[str], group_ids: list[str]) -> None:
    text = f'[identity_store]\nid = "{STORE}"\nregion = "us-east-1"\n\n'
    for d, domain_id in enumerate(domains):
        text += f'[[domains]]\nname = "bench-{d}"\nid = "{domain_id}"\n\n'
    for g, group_id in enumerate(group_ids):
        d = g % len(domains)
        text += (f'[[mappings]]\ngroup_id = "{group_id}"\ndomain = "bench-{d}"\npriority = {g + 1}\n'
                 f'execution_role = "arn:aws:iam::123456789012:role/bench-{d}"\n\n')
    path.write_text(text)


# --------------------------------------------------------------------------------------
# A Runtime API that serves a queue of events to one process at a time


class Invocation:
    def __init__(self, event: bytes) -> None:
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.delivered: float | None = None  # time.monotonic() once the event is written
        self.answered: float | None = None
        self.outcome: str | None = None
        self.body = b""
        self.done = threading.Event()


class RuntimeApi(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.events: queue.Queue[Invocation | None] = queue.Queue()
        self.current: dict[str, Invocation] = {}
        self.first_next: float | None = None
        self.deadline_ms = 900_000  # Lambda's maximum
        self.closing = threading.Event()


class Handler(BaseHTTPRequestHandler):
    server: RuntimeApi
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without TCP_NODELAY, Nagle holds the body
        # until the client ACKs the headers, which a keep-alive connection out of quick-ack
        # mode delays by up to 40 ms (seen on every warm event before this was set).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self) -> None:
        if self.path != f"{API}/invocation/next":
            self._reply(404, b'{"errorMessage":"not found"}')
            return
        if self.server.first_next is None:
            self.server.first_next = time.monotonic()
        while True:
            if self.server.closing.is_set():
                self.close_connection = True
                return
            try:
                inv = self.server.events.get(timeout=0.2)
                break
            except queue.Empty:
                continue
        if inv is None:  # no more events: drop the connection (the process gets killed)
            self.close_connection = True
            return
        self.server.current[inv.request_id] = inv
        self._reply(200, inv.event, {
            "Lambda-Runtime-Aws-Request-Id": inv.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + self.server.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
            "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
        })
        inv.delivered = time.monotonic()

    def do_POST(self) -> None:
        now = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.split("/")
        inv = None
        outcome = None
        if self.path.startswith(f"{API}/invocation/") and len(parts) >= 6:
            inv = self.server.current.get(parts[4])
            outcome = {"response": "response", "error": "error"}.get(parts[5])
        elif self.path == f"{API}/init/error":
            outcome = "init-error"
            for candidate in list(self.server.current.values()):
                if not candidate.done.is_set():
                    inv = candidate
        if inv is None or outcome is None:
            self._reply(404, b'{"errorMessage":"unknown path"}')
            return
        inv.answered, inv.outcome, inv.body = now, outcome, body
        self._reply(202, b'{"status":"OK"}')
        inv.done.set()


class Function:
    """One process of a release binary, talking to a fresh Runtime API."""

    def __init__(self, binary: Path, env: dict, log) -> None:
        self.api = RuntimeApi()
        threading.Thread(target=self.api.serve_forever, daemon=True).start()
        env = dict(env, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{self.api.server_address[1]}")
        self.log = log
        self.started = time.monotonic()
        self.proc = subprocess.Popen([str(binary)], env=env, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=log, cwd=tempfile.gettempdir())
        self.deadline_s = 900
        # VmHWM sampled every second, so a run cut short still tells its peak so far.
        self.sampled_hwm_kb = 0
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while self.proc.poll() is None:
            kb = vm_hwm_kb(self.proc.pid)
            if kb:
                self.sampled_hwm_kb = max(self.sampled_hwm_kb, kb)
            time.sleep(1.0)

    def invoke(self, event: bytes, timeout: float) -> Invocation:
        inv = Invocation(event)
        self.api.events.put(inv)
        if not inv.done.wait(timeout):
            why = (f"exited with {self.proc.returncode}" if self.proc.poll() is not None
                   else f"did not answer within {timeout}s")
            self.log.seek(0)
            raise RuntimeError(f"function {why}; its log ends:\n"
                               f"{self.log.read()[-3000:].decode(errors='replace')}")
        if inv.outcome != "response":
            raise RuntimeError(f"function answered {inv.outcome}: {inv.body[:1000]!r}")
        return inv

    def vm_hwm_mb(self) -> float | None:
        time.sleep(0.01)  # it is now blocked on the next GET /next
        kb = vm_hwm_kb(self.proc.pid)
        return kb / 1024 if kb else None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.api.closing.set()
        self.api.events.put(None)
        self.api.shutdown()
        self.api.server_close()


def cpu_ms(pid: int) -> float:
    """utime + stime of a process, in ms (from /proc/<pid>/stat; clock-tick resolution)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def base_env(function: str, endpoint: str, policy: Path, extra: dict) -> dict:
    env = lambda_env(function, 0, 0, policy)
    env["AWS_ENDPOINT_URL"] = endpoint
    env["WARDEN_TABLE"] = "ledger"
    env.update(extra)
    return env


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --------------------------------------------------------------------------------------
# event: receipt -> CreateUserProfile


def membership_event(user_id: str, group_id: str) -> bytes:
    event = json.loads(EVENT_TEMPLATE.read_text())
    event["id"] = str(uuid.uuid4())
    detail = event["detail"]
    detail["requestParameters"]["identityStoreId"] = STORE
    detail["requestParameters"]["groupId"] = group_id
    detail["requestParameters"]["memberId"]["userId"] = user_id
    detail["responseElements"]["identityStoreId"] = STORE
    detail["responseElements"]["membershipId"] = str(uuid.uuid4())
    detail["eventID"] = str(uuid.uuid4())
    return json.dumps(event).encode()


def analyse(timeline: list, delivered: float, answered: float) -> dict:
    """The calls of one invocation (arrival within [delivered, answered]) up to the first
    CreateUserProfile: their count, names, and the emulator's own time on them."""
    calls = sorted((c for c in timeline if delivered <= c[0] <= answered), key=lambda c: c[0])
    before, create = [], None
    for c in calls:
        if c[2] == "sagemaker:CreateUserProfile":
            create = c
            break
        before.append(c)
    if create is None:
        raise RuntimeError(f"no CreateUserProfile in this invocation: {[c[2] for c in calls]}")
    overhead = (create[0] - delivered) * 1000
    service = sum((c[1] - c[0]) for c in before) * 1000
    return {
        "overhead_ms": overhead,
        "emulator_ms": service,
        "ours_ms": overhead - service,
        "calls_before": [c[2] for c in before],
        "calls_total": [c[2] for c in calls],
        "response_ms": (answered - delivered) * 1000,
        # [arrival after receipt, emulator's time on it, name], in ms
        "detail": [[round((c[0] - delivered) * 1000, 2), round((c[1] - c[0]) * 1000, 2), c[2]]
                   for c in calls],
    }


def summarise(rows: list[dict]) -> dict:
    out = {}
    for key in ("overhead_ms", "emulator_ms", "ours_ms", "response_ms"):
        values = [r[key] for r in rows]
        out[key] = {"median": statistics.median(values), "p90": pct(values, 90),
                    "min": min(values), "max": max(values)}
    out["calls_before"] = sorted({tuple(r["calls_before"]) for r in rows})
    out["calls_total"] = sorted({tuple(r["calls_total"]) for r in rows})
    return out


def run_event(args, emu: EmulatorProcess, log) -> dict:
    domain = emu.create_domain("bench-0")
    emu.create_table("ledger")
    users_needed = args.runs + args.runs * args.warm + 1
    groups, users = emu.seed(["bench-group-00"], users_needed)
    group_id = groups["bench-group-00"]
    policy = Path(tempfile.mkdtemp(prefix="warden-bench-")) / "policy.toml"
    write_policy(policy, [domain], [group_id])
    emu.control("POST", "/_emulator/config", {"call_timeline": True})
    env = base_env("membership-sync", emu.endpoint, policy, {})
    binary = args.bin_dir / "membership-sync"
    next_user = iter(users)
    cold, warm = [], []
    warm_cpu: list[float] = []  # per process: CPU ms its warm events used (clock ticks)
    # One unmeasured process warms the page cache and the emulator's code paths.
    fn = Function(binary, env, log)
    try:
        fn.invoke(membership_event(next(next_user), group_id), args.timeout)
    finally:
        fn.close()
    for _ in range(args.runs):
        fn = Function(binary, env, log)
        try:
            inv = fn.invoke(membership_event(next(next_user), group_id), args.timeout)
            row = analyse(emu.timeline(), inv.delivered, inv.answered)
            row["init_ms"] = (fn.api.first_next - fn.started) * 1000
            row["vm_hwm_mb"] = fn.vm_hwm_mb()
            cold.append(row)
            cpu0 = cpu_ms(fn.proc.pid)
            for _ in range(args.warm):
                time.sleep(args.gap)
                inv = fn.invoke(membership_event(next(next_user), group_id), args.timeout)
                warm.append(analyse(emu.timeline(), inv.delivered, inv.answered))
            warm_cpu.append(cpu_ms(fn.proc.pid) - cpu0)
        finally:
            fn.close()
        emu.control("POST", "/_emulator/config", {"call_timeline": True})  # clear it
    result = {"cold": summarise(cold), "warm": summarise(warm), "rows": {"cold": cold, "warm": warm},
              "load": loadavg()}
    if warm:
        # The function's own CPU per warm event (user + system, all threads), averaged over
        # every warm event: the part of "ours" that is the Rust process, not the HTTP servers.
        result["warm_cpu_ms_per_event"] = sum(warm_cpu) / len(warm)
    for name, s in (("cold (first event of a new process)", result["cold"]),
                    ("warm (same process, new user)", result["warm"])):
        n = len(cold) if name.startswith("cold") else len(warm)
        print(f"\n{name}: {n} events")
        for key, label in (("overhead_ms", "receipt -> CreateUserProfile arrives"),
                           ("emulator_ms", "  of which the emulator serving earlier calls"),
                           ("ours_ms", "  of which the function (and HTTP)"),
                           ("response_ms", "receipt -> response POSTed")):
            print(f"  {label:<46} median {s[key]['median']:8.2f} ms   p90 {s[key]['p90']:8.2f}"
                  f"   min {s[key]['min']:7.2f}   max {s[key]['max']:8.2f}")
        print(f"  calls before CreateUserProfile: {s['calls_before']}")
        print(f"  all calls of the invocation: {s['calls_total']}")
    if warm:
        print(f"\nfunction CPU (utime+stime) per warm event, whole invocation: "
              f"{result['warm_cpu_ms_per_event']:.2f} ms (mean over {len(warm)} events, 10 ms ticks)")
    gaps = [b[0] - (a[0] + a[1]) for r in warm for a, b in zip(r["detail"], r["detail"][1:])
            if r["detail"].index(b) <= len(r["calls_before"])]
    if gaps:
        result["warm_gap_ms"] = {"median": statistics.median(gaps), "p90": pct(gaps, 90)}
        print(f"warm: from the emulator's answer to one call to the arrival of the next, up to "
              f"CreateUserProfile: median {statistics.median(gaps):.2f} ms, p90 {pct(gaps, 90):.2f} ms")
    hwm = [r["vm_hwm_mb"] for r in cold if r["vm_hwm_mb"]]
    if hwm:
        print(f"\nVmHWM after the first event: median {statistics.median(hwm):.2f} MB, max {max(hwm):.2f} MB")
    return result


# --------------------------------------------------------------------------------------
# sweep: peak RSS


def run_sweep(args, emu: EmulatorProcess, log) -> dict:
    domains = [emu.create_domain(f"bench-{d}") for d in range(args.domains)]
    emu.create_table("ledger")
    if not args.moto_transactions:
        # moto deep-copies the whole table for every TransactWriteItems (quadratic over a
        # sweep); see tests/emulator/dynamodb_ext.py.
        emu.control("POST", "/_emulator/config", {"fast_transactions": True})
    names = [f"bench-group-{g:02d}" for g in range(args.groups)]
    t = time.monotonic()
    groups, _users = emu.seed(names, args.users)
    print(f"seeded {args.users} users in {args.groups} groups in {time.monotonic() - t:.1f} s")
    policy = Path(tempfile.mkdtemp(prefix="warden-bench-")) / "policy.toml"
    write_policy(policy, domains, [groups[n] for n in names])
    env = base_env("compliance-sweep", emu.endpoint, policy, {
        "WARDEN_SAGEMAKER_TPS": str(args.tps), "WARDEN_IDENTITY_TPS": str(args.tps)})
    binary = args.bin_dir / "compliance-sweep"
    event = json.dumps({"mode": "apply"}).encode()
    result: dict = {"users": args.users, "groups": args.groups, "domains": args.domains,
                    "fast_transactions": not args.moto_transactions}

    def one(label: str) -> None:
        fn = Function(binary, env, log)
        fn.api.deadline_ms = int(args.timeout * 1000)
        try:
            t0 = time.monotonic()
            stats0 = emu.control("GET", "/_emulator/stats")["calls"]
            inv = fn.invoke(event, args.timeout)
            wall = time.monotonic() - t0
            hwm = fn.vm_hwm_mb()
            stats1 = emu.control("GET", "/_emulator/stats")["calls"]
        except RuntimeError:
            print(f"{label}: cut short after {time.monotonic() - t0:.0f} s; VmHWM so far "
                  f"{fn.sampled_hwm_kb / 1024:.2f} MB (sampled each second); load {loadavg()}")
            raise
        finally:
            fn.close()
        calls = {k: v - stats0.get(k, 0) for k, v in stats1.items() if v - stats0.get(k, 0)}
        result[label] = {"vm_hwm_mb": hwm, "wall_s": wall, "calls": calls,
                         "response_bytes": len(inv.body),
                         "response": inv.body.decode(errors="replace")[:400], "load": loadavg()}
        print(f"{label}: VmHWM {hwm:.2f} MB, {wall:.1f} s, response {len(inv.body):,} bytes, "
              f"load {loadavg()}, {sum(calls.values())} calls {calls}")

    one("create")
    time.sleep(max(1.0, args.status_delay * 4))
    one("settle")
    for i in range(args.repeat):
        one(f"no_change_{i + 1}")
    return result


# --------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("event", "sweep"))
    ap.add_argument("--python", type=Path, default=Path(os.environ.get("WARDEN_PYTHON") or ROOT / ".venv" / "bin" / "python"))
    ap.add_argument("--bin-dir", type=Path, default=ROOT / "target" / "release")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--timeout", type=float, default=900.0, help="seconds per invocation")
    ap.add_argument("--status-delay", type=float, default=0.05)
    # event
    ap.add_argument("--runs", type=int, default=20, help="event: fresh processes (cold events)")
    ap.add_argument("--warm", type=int, default=2, help="event: further events per process")
    ap.add_argument("--gap", type=float, default=0.5, help="event: seconds between warm events")
    # sweep
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--groups", type=int, default=50)
    ap.add_argument("--domains", type=int, default=3)
    ap.add_argument("--tps", type=int, default=10_000, help="sweep: WARDEN_*_TPS")
    ap.add_argument("--repeat", type=int, default=1, help="sweep: no-change sweeps (fresh process each)")
    ap.add_argument("--moto-transactions", action="store_true",
                    help="sweep: keep moto's deep-copy TransactWriteItems (slow beyond a few thousand users)")
    args = ap.parse_args()
    if not args.python.exists():
        print(f"no Python with moto at {args.python} (make venv, or --python)", file=sys.stderr)
        return 2
    for name in ("membership-sync", "compliance-sweep"):
        if not (args.bin_dir / name).is_file():
            print(f"{args.bin_dir / name}: not built (cargo build --release --locked -p {name})", file=sys.stderr)
            return 2

    def on_term(_sig, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    print(f"start {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, load {loadavg()}")
    emu = None
    with tempfile.TemporaryFile() as emu_log, tempfile.TemporaryFile() as fn_log:
        try:
            emu = EmulatorProcess(args.python, args.status_delay, 1_000_000, emu_log)
            result = run_event(args, emu, fn_log) if args.mode == "event" else run_sweep(args, emu, fn_log)
        except (RuntimeError, OSError) as e:
            print(f"on_emulator: {e}", file=sys.stderr)
            emu_log.seek(0)
            print(f"--- emulator stderr (tail) ---\n{emu_log.read()[-2000:].decode(errors='replace')}",
                  file=sys.stderr)
            return 1
        finally:
            if emu is not None:
                emu.kill()
    print(f"end {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}, load {loadavg()}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
