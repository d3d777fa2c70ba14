"""Instructions per request under callgrind: deterministic, so valid on a
loaded machine where requests per second are noise.

    redis-server (plain) ─► the server under `valgrind --tool=callgrind`
    this process (not profiled) ─► seed, warm up ─► zero the counters
        ─► N requests of one kind, one after another on one connection
        ─► dump: Ir(N)  ─► zero ─► idle as long ─► dump: Ir(idle)
    instructions per request = (Ir(N) - Ir(idle)) / N

Subtracting an idle stretch as long as the measured one removes what the
server does on its own (timers, the link's probe), which under valgrind's
slowdown is not small. Kinds: `memory` (memory-hit GET), `redis` (Redis-hit
GET: CACHE_LRU_MAX_ITEMS=0), `put`, `mget-memory` and `mget-redis` (`_mget`
of 100 hits), and `bare`, baselines.py's aiohttp handler returning fixed
bytes (the floor); each is also given as a ratio to `bare`.
Run: python -m scripts.benchmark.instructions [KIND ...] [-n N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from scripts.benchmark.placement import ROOT, module_env
from scripts.benchmark.processes import BenchError
from scripts.benchmark.workloads import make_value
from scripts.harness.ports import free_port
from scripts.harness.redis_server import RedisServer
from scripts.harness.waiting import wait_for

KINDS = ("bare", "memory", "redis", "put", "mget-memory", "mget-redis")
VALUE = make_value(64)
CONTENT_TYPE = "application/json"
MGET_KEYS = [f"b{i:03d}" for i in range(100)]
WARM_UP = 100
LISTEN = "127.0.0.1"
START_TIMEOUT_S = 300.0  # Python's imports under valgrind take a while
Send = Callable[[http.client.HTTPConnection, int], None]


def _request(conn: http.client.HTTPConnection, method: str, path: str,
             body: bytes | None = None, expect: int = 200) -> bytes:
    headers = {"Content-Type": CONTENT_TYPE} if body is not None else {}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != expect:
        raise BenchError(f"{method} {path}: {response.status} {data[:200]!r}")
    return data


def _get(key: str) -> Send:
    def send(conn: http.client.HTTPConnection, i: int) -> None:
        _request(conn, "GET", f"/cache/default/{key}")

    return send


def _put(conn: http.client.HTTPConnection, i: int) -> None:
    _request(conn, "PUT", f"/cache/default/p{i % 64}", VALUE, 204)


def _mget(conn: http.client.HTTPConnection, i: int) -> None:
    body = json.dumps({"keys": MGET_KEYS}).encode()
    _request(conn, "POST", "/cache/default/_mget", body)


def _seed(conn: http.client.HTTPConnection, i: int) -> None:
    # Under valgrind the link may still be settling after /health/ready.
    wait_for(lambda: _status(conn, "PUT", "/cache/default/hot", VALUE) == 204, 120.0,
             "a first PUT", every=1.0, error=BenchError)
    for key in MGET_KEYS:
        _request(conn, "PUT", f"/cache/default/{key}", VALUE, 204)
    conn.request("GET", "/cache/default/hot")
    response = conn.getresponse()
    response.read()
    if response.getheader("X-Cache-Degraded") is not None:
        raise BenchError("the service answers degraded: Redis is not reachable")


def _status(conn: http.client.HTTPConnection, method: str, path: str, body: bytes) -> int:
    conn.request(method, path, body=body, headers={"Content-Type": CONTENT_TYPE})
    response = conn.getresponse()
    response.read()
    return response.status


SENDS: dict[str, Send] = {"bare": _get("hot"), "memory": _get("hot"), "redis": _get("hot"),
                          "put": _put, "mget-memory": _mget, "mget-redis": _mget}


def _server_argv(kind: str, port: int, redis_url: str, workdir: Path) -> tuple[list[str], dict[str, str]]:
    env = {**module_env(), "PYTHONHASHSEED": "0", "HOST": LISTEN, "PORT": str(port),
           "LOG_LEVEL": "WARNING", "SHUTDOWN_DRAIN_MS": "0"}
    if kind == "bare":
        value_file = workdir / "value"
        value_file.write_bytes(VALUE)
        return [sys.executable, "-m", "scripts.benchmark.baselines", "bytes", "--port", str(port),
                "--value-file", str(value_file), "--content-type", CONTENT_TYPE], env
    env.update({"REDIS_URL": redis_url, "REDIS_LAZY_CONNECT": "false",
                "CACHE_KEY_PREFIX": f"cg-{kind}",
                # Valgrind runs the service ~50x slower: 250 ms would time out.
                "REDIS_COMMAND_TIMEOUT_MS": "20000"})
    if kind in ("redis", "mget-redis"):
        env["CACHE_LRU_MAX_ITEMS"] = "0"
    return [sys.executable, "-m", "service"], env


def _totals(out_dir: Path, pid: int, before: set[Path]) -> int:
    """The Ir of the dump callgrind_control just asked for: its summary
    (what callgrind_annotate calls the program's total; the file's
    `totals:` also counts again what frames active at the zeroing did)."""
    wait_for(lambda: bool(set(out_dir.glob(f"cg.{pid}.*")) - before), 60.0,
             "callgrind dump", every=0.1, error=BenchError)
    (dump,) = set(out_dir.glob(f"cg.{pid}.*")) - before
    wait_for(lambda: "totals:" in dump.read_text(errors="replace"), 60.0,
             "callgrind dump", every=0.1, error=BenchError)
    for line in dump.read_text(errors="replace").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise BenchError(f"{dump}: no summary")


def _control(pid: int, flag: str) -> None:
    # vgdb finds the server by a pipe named after $USER and $HOST: the
    # server's HOST (its listening address) must be ours too.
    done = subprocess.run(["callgrind_control", flag, str(pid)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "HOST": LISTEN})
    if done.returncode != 0 or "OK" not in done.stdout or "error" in done.stderr:
        raise BenchError(f"callgrind_control {flag} {pid}: {done.stdout}{done.stderr}")


def _counted(out_dir: Path, pid: int, work: Callable[[], None]) -> int:
    _control(pid, "-z")
    before = set(out_dir.glob(f"cg.{pid}.*"))
    work()
    _control(pid, "-d")
    return _totals(out_dir, pid, before)


def measure(kind: str, n: int, redis_url: str, out_dir: Path) -> dict[str, float]:
    """Instructions per request of `kind` over `n` requests."""
    port = free_port()
    argv, env = _server_argv(kind, port, redis_url, out_dir)
    valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_dir}/cg.%p"]
    log = (out_dir / f"{kind}.log").open("wb")
    server = subprocess.Popen([*valgrind, *argv], env=env, cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        conn = _connect(port, server, "/ping" if kind == "bare" else "/health/ready")
        if kind != "bare":
            _seed(conn, 0)
        send = SENDS[kind]
        for i in range(WARM_UP):
            send(conn, i)
        started = time.monotonic()
        def requests() -> None:
            for i in range(n):
                send(conn, i)

        busy = _counted(out_dir, server.pid, requests)
        elapsed = time.monotonic() - started
        idle = _counted(out_dir, server.pid, lambda: time.sleep(elapsed))
        conn.close()
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
    return {"n": n, "busy_ir": busy, "idle_ir": idle, "per_request": (busy - idle) / max(n, 1)}


def _connect(port: int, server: subprocess.Popen[bytes], ready: str,
             ) -> http.client.HTTPConnection:
    """A connection to the server once `ready` answers 200 (the service: its
    Redis link connected, else a PUT with no memory tier is refused)."""

    def answering() -> bool:
        if server.poll() is not None:
            raise BenchError(f"server exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", ready)
            response = conn.getresponse()
            response.read()
            conn.close()
            return response.status == 200
        except OSError:
            return False

    wait_for(answering, START_TIMEOUT_S, "server under callgrind", every=0.5, error=BenchError)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=120)


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
    with tempfile.TemporaryDirectory(prefix="cg-") as tmp:
        out_dir = args.keep or Path(tmp)
        out_dir.mkdir(parents=True, exist_ok=True)
        redis = RedisServer(Path(tmp)).start()
        try:
            figures = {kind: measure(kind, args.n, redis.url, out_dir) for kind in kinds}
        finally:
            redis.stop()
    floor = figures.get("bare", {}).get("per_request")
    for kind, figure in figures.items():
        ratio = f"  {figure['per_request'] / floor:5.2f}x bare" if floor else ""
        print(f"{kind:12s} {figure['per_request']:12,.0f} instructions/request{ratio}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main(sys.argv[1:]))
