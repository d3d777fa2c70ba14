"""The load driver of scripts/bench: wrk (required: without it the bench
stops with one clear error rather than measure with something weaker).

wrk runs a `Workload` from a generated Lua script: the requests formatted
once per thread in init(), cycled from a per-thread offset (set in
setup()); done() prints every figure as one `BENCH_JSON {...}` line.
`statuses=True` also counts answers by class (2xx, 404, other), which
parses every response in Lua, so throughput runs leave it off and count
only what wrk calls status errors (every answer >= 400).
"""

from __future__ import annotations

import itertools
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from scripts.benchmark.processes import installed, result
from scripts.harness.service_process import ChildProcess, CPUs

WRK_TIMEOUT_S = 5
# How long past its duration wrk may take to report before it is killed.
GRACE_S = 30.0
# One number per wrk run of the whole bench: the full and the halved load are
# two Wrk objects, and two runs sharing a log would read each other's figures.
RUNS = itertools.count(1)


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    content_type: str | None = None


@dataclass(frozen=True)
class Workload:
    name: str
    requests: tuple[Request, ...]


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    # Answers that were not 2xx (with statuses=False: answers >= 400).
    non_2xx: int
    # Connect/read/write errors and timeouts: requests that got no answer.
    socket_errors: int
    # Only with statuses=True: 404 answers, and answers neither 2xx nor 404.
    not_found: int | None = None
    other_status: int | None = None

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def bad(self) -> int:
        """Answers an outage must never cause: not 2xx/404, or no answer at all."""
        other = self.other_status if self.other_status is not None else self.non_2xx
        return other + self.socket_errors


class RunningLoad(Protocol):
    def wait(self) -> LoadResult: ...
    def stop(self) -> None: ...


class Generator(Protocol):
    name: str
    version: str
    threads: int
    connections: int

    def start(self, base_url: str, workload: Workload, duration_s: int, *,
              statuses: bool = False) -> RunningLoad: ...


LUA = """\
local threads = {}
local formatted = {}
local counter = 0
s2xx, s404, sother = 0, 0, 0

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  for i, spec in ipairs(specs) do
    formatted[i] = wrk.format(spec[1], spec[2], spec[3], spec[4])
  end
  counter = offset or 0
end

function request()
  counter = counter + 1
  return formatted[(counter % #formatted) + 1]
end
-- response()
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + (thread:get("s2xx") or 0)
    b = b + (thread:get("s404") or 0)
    c = c + (thread:get("sother") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "status_errors": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d, "s2xx": %d, "s404": %d, "sother": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout, a, b, c))
end
"""
COUNT_STATUSES = """
function response(status, headers, body)
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  elseif status == 404 then
    s404 = s404 + 1
  else
    sother = sother + 1
  end
end
"""


def lua_string(data: bytes) -> str:
    """A Lua string literal holding exactly `data` (decimal escapes, no surprises)."""
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /:._-{},=+"
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in data) + '"'


def lua_script(requests: tuple[Request, ...], *, statuses: bool) -> str:
    specs = []
    for r in requests:
        headers = "nil" if r.content_type is None else (
            "{[" + lua_string(b"Content-Type") + "] = "
            + lua_string(r.content_type.encode("latin-1")) + "}")
        body = lua_string(r.body) if r.body else "nil"
        specs.append(f"  {{{lua_string(r.method.encode())}, {lua_string(r.path.encode())}, "
                     f"{headers}, {body}}},")
    return "specs = {\n" + "\n".join(specs) + "\n}\n" + LUA.replace(
        "-- response()\n", COUNT_STATUSES if statuses else "")


class WrkRun:
    """One wrk process under way."""

    def __init__(self, process: ChildProcess, deadline_s: float, statuses: bool) -> None:
        self.process, self.deadline_s, self.statuses = process, deadline_s, statuses
        process.spawn()

    def wait(self) -> LoadResult:
        try:
            raw = result(self.process, self.deadline_s)
        finally:
            self.stop()
        socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
        times = (raw["requests"], raw["duration_us"] / 1e6, raw["p50_us"] / 1e3,
                 raw["p99_us"] / 1e3, raw["max_us"] / 1e3)
        if not self.statuses:
            return LoadResult(*times, raw["status_errors"], socket_errors)
        return LoadResult(*times, raw["s404"] + raw["sother"], socket_errors, raw["s404"],
                          raw["sother"])

    def stop(self) -> None:
        self.process.kill()


class Wrk:
    """The wrk binary: one process, -t threads, cycling the workload's requests."""

    name = "wrk"

    def __init__(self, threads: int, connections: int, run_dir: Path, cpus: CPUs) -> None:
        binary = installed("wrk")
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        words = (done.stdout + done.stderr).split()
        self.version = words[1] if len(words) > 1 else "unknown"
        self.binary, self.threads, self.connections = binary, threads, connections
        self.run_dir, self.cpus = run_dir, cpus

    def start(self, base_url: str, workload: Workload, duration_s: int, *,
              statuses: bool = False) -> WrkRun:
        script = self.run_dir / f"wrk-{next(RUNS)}-{workload.name}.lua"
        script.write_text(lua_script(workload.requests, statuses=statuses))
        argv = [self.binary, "-t", str(self.threads), "-c", str(self.connections),
                "-d", f"{duration_s}s", "--timeout", f"{WRK_TIMEOUT_S}s", "-s", str(script),
                base_url]
        return WrkRun(ChildProcess(argv, script.with_suffix(".log"), cpus=self.cpus, detached=True),
                      duration_s + GRACE_S, statuses)
