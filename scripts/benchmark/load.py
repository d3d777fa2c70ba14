"""Load generation for scripts/bench: wrk when installed, else Python workers.

A `Workload` is a fixed list of requests that every connection cycles
through (each thread from its own offset). Both generators take it and give
a `LoadResult`, so two servers are always driven alike:

    wrk        one process, -t threads, a generated Lua script (wrk.py)
    python     -t worker processes (pyload.py), each running
               connections/threads keep-alive connections on one event loop

`statuses=True` also counts answers by class (2xx, 404, other); wrk then
parses every response in Lua, so throughput runs leave it off and count
only what wrk calls status errors (every answer >= 400).
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Protocol

from scripts.benchmark.placement import CPUs, module_argv, module_env
from scripts.benchmark.processes import BenchError, Process
from scripts.benchmark.wrk import lua_script

WRK_TIMEOUT_S = 5
# How long past its duration a generator may take to report before it is killed.
GRACE_S = 30.0


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

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"method": r.method, "path": r.path, "content_type": r.content_type,
             "body": base64.b64encode(r.body).decode()}
            for r in self.requests
        ]


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


class _Run:
    """A load under way: its generator processes, and how their result lines
    make one LoadResult."""

    def __init__(self, processes: list[Process], deadline_s: float,
                 combine: Callable[[list[dict[str, Any]]], LoadResult]) -> None:
        self._processes, self._deadline_s, self._combine = processes, deadline_s, combine
        for process in processes:
            process.spawn()

    def wait(self) -> LoadResult:
        try:
            return self._combine([p.result(self._deadline_s) for p in self._processes])
        finally:
            self.stop()

    def stop(self) -> None:
        for process in self._processes:
            process.kill()


def _wrk_result(statuses: bool, parts: list[dict[str, Any]]) -> LoadResult:
    (raw,) = parts
    socket_errors = raw["connect"] + raw["read"] + raw["write"] + raw["timeout"]
    times = (raw["requests"], raw["duration_us"] / 1e6, raw["p50_us"] / 1e3,
             raw["p99_us"] / 1e3, raw["max_us"] / 1e3)
    if not statuses:
        return LoadResult(*times, raw["status_errors"], socket_errors)
    return LoadResult(*times, raw["s404"] + raw["sother"], socket_errors, raw["s404"],
                      raw["sother"])


def _python_result(parts: list[dict[str, Any]]) -> LoadResult:
    latencies = sorted(us for part in parts for us in part["latencies_us"])
    s404 = sum(part["s404"] for part in parts)
    sother = sum(part["sother"] for part in parts)
    return LoadResult(len(latencies), max(part["duration_s"] for part in parts),
                      percentile(latencies, 50) / 1e3, percentile(latencies, 99) / 1e3,
                      latencies[-1] / 1e3 if latencies else 0.0, s404 + sother,
                      sum(part["errors"] for part in parts), s404, sother)


class _Generator:
    name = ""

    def __init__(self, threads: int, connections: int, run_dir: Path, cpus: CPUs,
                 version: str) -> None:
        self.threads, self.connections, self.version = threads, connections, version
        self.run_dir, self.cpus = run_dir, cpus
        self._runs = 0

    def _file(self, workload: Workload, suffix: str) -> Path:
        """A new file in the run's directory for one run's script or workload."""
        self._runs += 1
        return self.run_dir / f"{self.name}-{self._runs}-{workload.name}{suffix}"


class Wrk(_Generator):
    """The wrk binary: one process, -t threads, cycling the workload's requests."""

    name = "wrk"

    def __init__(self, binary: str, threads: int, connections: int, run_dir: Path,
                 cpus: CPUs) -> None:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        words = (done.stdout + done.stderr).split()
        super().__init__(threads, connections, run_dir, cpus,
                         words[1] if len(words) > 1 else "unknown")
        self.binary = binary

    def start(self, base_url: str, workload: Workload, duration_s: int, *,
              statuses: bool = False) -> RunningLoad:
        script = self._file(workload, ".lua")
        script.write_text(lua_script(workload.requests, statuses=statuses))
        argv = [self.binary, "-t", str(self.threads), "-c", str(self.connections),
                "-d", f"{duration_s}s", "--timeout", f"{WRK_TIMEOUT_S}s", "-s", str(script),
                base_url]
        return _Run([Process("wrk", argv, script.with_suffix(".log"), cpus=self.cpus)],
                    duration_s + GRACE_S, partial(_wrk_result, statuses))


class PythonLoad(_Generator):
    """Worker processes of pyload.py, one per 'thread'."""

    name = "python"

    def __init__(self, threads: int, connections: int, run_dir: Path, cpus: CPUs) -> None:
        super().__init__(threads, connections, run_dir, cpus, sys.version.split()[0])

    def start(self, base_url: str, workload: Workload, duration_s: int, *,
              statuses: bool = False) -> RunningLoad:
        spec = self._file(workload, ".json")
        spec.write_text(json.dumps(workload.to_json()))
        start_at = time.monotonic() + 0.2  # every worker starts at the same moment
        per_worker = max(1, self.connections // self.threads)
        return _Run([
            Process(f"pyload-{index}", module_argv(
                "pyload", base_url, str(spec), "--connections", str(per_worker), "--duration",
                str(duration_s), "--start-at", str(start_at), "--offset", str(index * 7919)),
                spec.with_suffix(f".{index}.log"), env=module_env(), cpus=self.cpus)
            for index in range(self.threads)
        ], duration_s + GRACE_S, _python_result)


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, round(q / 100 * len(sorted_values)))
    return float(sorted_values[min(rank, len(sorted_values)) - 1])


def make_generator(choice: str, threads: int, connections: int, run_dir: Path,
                   cpus: CPUs) -> Generator:
    """wrk when asked for or (with 'auto') when on PATH, else the Python workers."""
    binary = shutil.which("wrk")
    if choice == "wrk" and binary is None:
        raise BenchError("--generator wrk: wrk is not on PATH (Debian: apt-get install wrk)")
    if choice in ("wrk", "auto") and binary is not None:
        return Wrk(binary, threads, connections, run_dir, cpus)
    return PythonLoad(threads, connections, run_dir, cpus)
