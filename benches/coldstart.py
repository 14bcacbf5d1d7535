#!/usr/bin/env python3
"""Cold-start harness: runs a release Lambda binary against a local Lambda Runtime API.

For each run it starts a fresh process of the function with the environment Lambda gives it,
serves one event through the Runtime API, and measures:

  init_ms      process start -> the first GET /2018-06-01/runtime/invocation/next
               (tracing, settings, policy parsed and validated, every SDK client built);
  first_ms     process start -> the POST of the first response (or error) for the event;
  peak_rss_mb  VmHWM of the process (from /proc/<pid>/status) once it has answered and is
               waiting for the next event. (wait4()'s ru_maxrss is kept in the raw rows only:
               Linux counts the forking Python parent's RSS before exec in it, so it overstates.)

It prints the median and p90 over N runs per function (default 30), and the size of the
stripped binary and of a zip of it (bootstrap + policy.toml, as `make package` builds it).
The process is killed after each run; nothing is left behind (also on Ctrl-C or an error).

Standard library only. Usage:
  python3 benches/coldstart.py                       # both functions, 30 runs each
  python3 benches/coldstart.py --runs 50 --json out.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
API = "/2018-06-01/runtime"
FUNCTIONS = ("membership-sync", "compliance-sweep")
# A CloudTrail event of a failed call (errorCode present): a logged skip, no AWS call.
DEFAULT_EVENT = ROOT / "events" / "failed-call-errorCode.json"


class Run:
    """What one process did, in perf_counter seconds."""

    def __init__(self, event: bytes) -> None:
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.started = 0.0
        self.first_next: float | None = None
        self.answered: float | None = None
        self.outcome: str | None = None  # "response", "error" or "init-error"
        self.body = b""
        self.delivered = False
        self.done = threading.Event()
        self.killed = threading.Event()
        self.lock = threading.Lock()


class RuntimeApi(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.run: Run | None = None
        self.closing = threading.Event()


class Handler(BaseHTTPRequestHandler):
    server: RuntimeApi
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args) -> None:  # quiet
        pass

    def _reply(self, status: int, body: bytes = b"", headers: dict | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        now = time.perf_counter()
        run = self.server.run
        if run is None or self.path != f"{API}/invocation/next":
            self._reply(404, b'{"errorMessage":"not found"}')
            return
        with run.lock:
            first = not run.delivered
            if run.first_next is None:
                run.first_next = now
            run.delivered = True
        if not first:
            # Lambda blocks here until the next event; this harness never sends one. The
            # process is killed after the measurement, so the connection is just dropped.
            run.killed.wait(timeout=60)
            self.close_connection = True
            return
        deadline_ms = int(time.time() * 1000) + 60_000
        self._reply(
            200,
            run.event,
            {
                "Lambda-Runtime-Aws-Request-Id": run.request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:111122223333:function:bench",
                "Lambda-Runtime-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
            },
        )

    def do_POST(self) -> None:
        now = time.perf_counter()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        run = self.server.run
        if run is None:
            self._reply(404)
            return
        outcome = None
        if self.path == f"{API}/invocation/{run.request_id}/response":
            outcome = "response"
        elif self.path == f"{API}/invocation/{run.request_id}/error":
            outcome = "error"
        elif self.path == f"{API}/init/error":
            outcome = "init-error"
        if outcome is None:
            self._reply(404, b'{"errorMessage":"unknown path"}')
            return
        with run.lock:
            if run.answered is None:
                run.answered, run.outcome, run.body = now, outcome, body
        self._reply(202, b'{"status":"OK"}')
        run.done.set()


def lambda_env(function: str, api_port: int, dead_port: int, policy: Path) -> dict:
    env = {
        # Only what Lambda itself provides, plus the function's configuration.
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{api_port}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDBENCHEXAMPLE0001",
        "AWS_SECRET_ACCESS_KEY": "bench-secret-not-a-real-key",
        "AWS_SESSION_TOKEN": "bench-session-token",
        # Nothing listens here: any AWS call would fail fast (the skip event makes none).
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{dead_port}",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2026/11/26/[$LATEST]bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "WARDEN_POLICY_FILE": str(policy),
        "WARDEN_TABLE": "studio-warden-bench",
        # Keep the SDK away from ~/.aws of whoever runs this.
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return env


def vm_hwm_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_run(server: RuntimeApi, binary: Path, env: dict, event: bytes, timeout: float, log) -> dict:
    run = Run(event)
    server.run = run
    proc = None
    try:
        run.started = time.perf_counter()
        proc = subprocess.Popen(
            [str(binary)], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            cwd=tempfile.gettempdir(),
        )
        answered = run.done.wait(timeout)
        if not answered:
            why = (f"exited with {proc.returncode} before answering" if proc.poll() is not None
                   else f"did not answer within {timeout}s")
            log.seek(0)
            tail = log.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"{binary.name} {why}; its log ends:\n{tail}")
        # The process is now blocked on the next GET /next: its high-water mark is final for
        # this invocation.
        time.sleep(0.005)
        hwm = vm_hwm_kb(proc.pid)
    finally:
        maxrss = None
        if proc is not None:
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            try:
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                maxrss = usage.ru_maxrss
            except ChildProcessError:  # already reaped by poll()
                pass
        run.killed.set()
        server.run = None
    assert run.first_next is not None and run.answered is not None
    return {
        "init_ms": (run.first_next - run.started) * 1000,
        "first_ms": (run.answered - run.started) * 1000,
        "outcome": run.outcome,
        "body": run.body.decode(errors="replace")[:300],
        "vm_hwm_kb": hwm,
        "ru_maxrss_kb": maxrss,
    }


def spawn_floor(runs: int) -> float:
    """Median time to spawn and reap /bin/true: the harness's own fork/exec/wait overhead."""
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    # nearest-rank percentile
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def zip_size(binary: Path, policy: Path) -> int:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(binary, "bootstrap")
        z.write(policy, "policy.toml")
    return len(buf.getvalue())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--bin-dir", type=Path, default=ROOT / "target" / "release")
    ap.add_argument("--functions", nargs="+", default=list(FUNCTIONS))
    ap.add_argument("--event", type=Path, default=DEFAULT_EVENT)
    ap.add_argument("--policy", type=Path, default=ROOT / "examples" / "policy.toml")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per run")
    ap.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="more environment for the function (e.g. WARDEN_ACCOUNT_ID for a policy that places domains in other accounts)",
    )
    ap.add_argument("--json", type=Path, help="also write the raw results here")
    args = ap.parse_args()

    event = args.event.read_bytes()
    json.loads(event)  # the sample must be JSON
    server = RuntimeApi()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dead_port = free_port()  # closed again: connections to it are refused
    results: dict = {"runs": args.runs, "event": str(args.event.relative_to(ROOT)
                     if args.event.is_relative_to(ROOT) else args.event), "functions": {}}
    status = 0
    try:
        results["spawn_floor_ms"] = spawn_floor(max(10, args.runs))
        print(f"machine: {os.cpu_count()} CPUs; spawn+reap of /bin/true: "
              f"{results['spawn_floor_ms']:.2f} ms (median)")
        for function in args.functions:
            binary = (args.bin_dir / function).resolve()
            if not binary.is_file():
                print(f"{binary}: not built (cargo build --release -p {function})", file=sys.stderr)
                status = 1
                continue
            env = lambda_env(function, server.server_address[1], dead_port, args.policy.resolve())
            env.update(dict(kv.split("=", 1) for kv in args.env))
            rows = []
            with tempfile.TemporaryFile() as log:
                # One unmeasured run warms the page cache, as a warm Lambda host would have it.
                one_run(server, binary, env, event, args.timeout, log)
                for _ in range(args.runs):
                    rows.append(one_run(server, binary, env, event, args.timeout, log))
                log.seek(0)
                sample_log = log.read(4000).decode(errors="replace")
            init = [r["init_ms"] for r in rows]
            first = [r["first_ms"] for r in rows]
            hwm = [r["vm_hwm_kb"] / 1024 for r in rows if r["vm_hwm_kb"]]
            outcomes = sorted({r["outcome"] for r in rows})
            summary = {
                "init_ms": {"median": statistics.median(init), "p90": pct(init, 90),
                            "min": min(init), "max": max(init)},
                "first_response_ms": {"median": statistics.median(first), "p90": pct(first, 90),
                                      "min": min(first), "max": max(first)},
                "peak_rss_mb": {"median": statistics.median(hwm), "max": max(hwm)} if hwm else None,
                "outcomes": outcomes,
                "response_sample": rows[-1]["body"],
                "binary_bytes": binary.stat().st_size,
                "zip_bytes": zip_size(binary, args.policy),
            }
            results["functions"][function] = {"summary": summary, "rows": rows}
            print(f"\n{function} ({args.runs} runs, event {args.event.name}, outcome {outcomes})")
            print(f"  init (start -> first GET /next)     median {summary['init_ms']['median']:7.2f} ms"
                  f"   p90 {summary['init_ms']['p90']:7.2f} ms   min {summary['init_ms']['min']:6.2f}"
                  f"   max {summary['init_ms']['max']:7.2f}")
            print(f"  first response (start -> POST)      median {summary['first_response_ms']['median']:7.2f} ms"
                  f"   p90 {summary['first_response_ms']['p90']:7.2f} ms")
            if hwm:
                print(f"  peak RSS (VmHWM)                    median {statistics.median(hwm):7.2f} MB"
                      f"   max {max(hwm):7.2f} MB")
            print(f"  binary {summary['binary_bytes']:,} bytes; zip (bootstrap + policy.toml, deflate) "
                  f"{summary['zip_bytes']:,} bytes")
            print(f"  response: {summary['response_sample'][:200]}")
            if outcomes != ["response"]:
                status = 1
                print(f"  unexpected outcome; the function's log:\n{sample_log}", file=sys.stderr)
    except (RuntimeError, AssertionError) as e:
        print(f"cold-start harness: {e}", file=sys.stderr)
        status = 1
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return status


if __name__ == "__main__":
    sys.exit(main())
