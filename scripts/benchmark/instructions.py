"""Instructions per request under callgrind: deterministic, so valid on a
loaded machine where requests per second are noise.

    redis-server (plain) ─► the server under `valgrind --tool=callgrind`
    this process (not profiled) ─► seed, warm up ─► zero the counters
        ─► N requests of one kind, one after another on one connection
        ─► dump: Ir(N)  ─► zero ─► idle as long ─► dump: Ir(idle)
    instructions per request = (Ir(N) - Ir(idle)) / N

Method and kinds: docs/performance.md, "Where a memory hit's instructions go".
Run: python -m scripts.benchmark.instructions [KIND ...] [-n N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scripts.benchmark.processes import BenchError, Connection, Processes
from scripts.benchmark.throughput import KEYS
from scripts.benchmark.throughput import MGET as MGET_WORKLOAD
from scripts.benchmark.workloads import make_value, service_env
from scripts.harness.service_process import HttpProcess
from scripts.harness.waiting import wait_for

KINDS = ("bare", "memory", "redis", "put", "mget-memory", "mget-redis")
VALUE = make_value(64)
MGET = MGET_WORKLOAD.requests[0].body
WARM_UP = 100
START_TIMEOUT_S = 300.0  # Python's imports under valgrind take a while


SENDS: dict[str, Callable[[Connection, int], object]] = {
    **{kind: lambda conn, i: conn.call("GET", "/cache/default/hot", expect=200)
       for kind in ("bare", "memory", "redis")},
    "put": lambda conn, i: conn.call("PUT", f"/cache/default/p{i % 64}", VALUE, 204),
    **{kind: lambda conn, i: conn.call("POST", "/cache/default/_mget", MGET, 200)
       for kind in ("mget-memory", "mget-redis")},
}


def _seed(conn: Connection) -> None:
    # Under valgrind the link may still be settling after /health/ready.
    wait_for(lambda: conn.call("PUT", "/cache/default/hot", VALUE)[0] == 204, 120.0,
             "a first PUT", every=1.0, error=BenchError)
    for key in KEYS:
        conn.call("PUT", f"/cache/default/{key}", VALUE, 204)
    if "X-Cache-Degraded" in conn.call("GET", "/cache/default/hot", expect=200)[1]:
        raise BenchError("the service answers degraded: Redis is not reachable")


def _start(procs: Processes, kind: str, redis_url: str) -> HttpProcess:
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={procs.run_dir}/cg.%p"]
    if kind == "bare":
        (procs.run_dir / "value").write_bytes(VALUE)
        return procs.baseline(kind, "bytes", "--value-file", str(procs.run_dir / "value"),
                              wait=False, prefix=valgrind)
    server = procs.service(kind, service_env(
        f"cg-{kind}", redis_url,
        # Valgrind runs the service ~50x slower: 250 ms would time out.
        REDIS_COMMAND_TIMEOUT_MS="20000",
        **({"CACHE_LRU_MAX_ITEMS": "0"} if kind in ("redis", "mget-redis") else {}),
    ), wait=False, prefix=valgrind)
    server.probe_path = "/health/ready"  # its Redis link connected: else a PUT is refused
    return server


def _control(pid: int, flag: str) -> None:
    # vgdb finds the server by a pipe named after $USER and $HOST: the
    # server's HOST (its listening address, main() sets it) must be ours too.
    done = subprocess.run(["callgrind_control", flag, str(pid)], capture_output=True, text=True,
                          timeout=60)
    if done.returncode != 0 or "OK" not in done.stdout or "error" in done.stderr:
        raise BenchError(f"callgrind_control {flag} {pid}: {done.stdout}{done.stderr}")


def _counted(out_dir: Path, pid: int, work: Callable[[], object]) -> int:
    """The Ir of `work()`: the summary of the dump taken after it (what
    callgrind_annotate calls the program's total; the file's `totals:`
    also counts again what frames active at the zeroing did)."""
    _control(pid, "-z")
    before = set(out_dir.glob(f"cg.{pid}.*"))
    work()
    _control(pid, "-d")
    wait_for(lambda: bool(set(out_dir.glob(f"cg.{pid}.*")) - before), 60.0,
             "callgrind dump", every=0.1, error=BenchError)
    (dump,) = set(out_dir.glob(f"cg.{pid}.*")) - before
    wait_for(lambda: "totals:" in dump.read_text(errors="replace"), 60.0,
             "callgrind dump", every=0.1, error=BenchError)
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise BenchError(f"{dump}: no summary")


def measure(procs: Processes, kind: str, n: int, redis_url: str) -> dict[str, float]:
    server = _start(procs, kind, redis_url)
    try:
        server.wait_answering(START_TIMEOUT_S)
        assert server.process is not None
        conn = Connection(server.port, timeout=120)
        if kind != "bare":
            _seed(conn)
        for i in range(WARM_UP):
            SENDS[kind](conn, i)
        started = time.monotonic()
        busy = _counted(procs.run_dir, server.process.pid,
                        lambda: [SENDS[kind](conn, i) for i in range(n)])
        elapsed = time.monotonic() - started
        idle = _counted(procs.run_dir, server.process.pid, lambda: time.sleep(elapsed))
        conn.close()
    finally:
        server.stop(60.0)
    return {"n": n, "busy_ir": busy, "idle_ir": idle, "per_request": (busy - idle) / max(n, 1)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.benchmark.instructions",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("kinds", nargs="*", metavar="KIND", help=f"of {', '.join(KINDS)} (all)")
    parser.add_argument("-n", type=int, default=500, help="requests measured (default 500)")
    parser.add_argument("--keep", type=Path, help="keep the dumps and logs in this directory")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    kinds = args.kinds or list(KINDS)
    if set(kinds) - set(KINDS):
        parser.error(f"kinds are {', '.join(KINDS)}")
    os.environ.update(PYTHONHASHSEED="0", HOST="127.0.0.1")  # the servers inherit both
    with tempfile.TemporaryDirectory(prefix="cg-") as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        procs = Processes(out_dir)
        try:
            redis = procs.redis("redis")
            figures = {kind: measure(procs, kind, args.n, redis.url) for kind in kinds}
        finally:
            procs.close()
    floor = figures.get("bare", {}).get("per_request")
    for kind, figure in figures.items():
        ratio = f"  {figure['per_request'] / floor:5.2f}x bare" if floor else ""
        print(f"{kind:12s} {figure['per_request']:12,.0f} instructions/request{ratio}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
