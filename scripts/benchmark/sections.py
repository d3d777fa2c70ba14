"""The sections of one bench run, in order (SECTIONS), each a `run(Run)`
that starts its own servers and a report of its tables and targets: memory
and invalidation here, the others in their modules (throughput.py also
holds batch and workers).

Method: docs/performance.md, a section for each ("Invalidation latency" for
the one measured here).
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.benchmark import ab, failover, outage, stampede, throughput
from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import Rounds
from scripts.benchmark.load import Generator
from scripts.benchmark.outage import OutagePlan
from scripts.benchmark.processes import BenchError, Connection, Processes, ready, result
from scripts.benchmark.report import Figures, Report, n, percentile, row, table, target, targets_table
from scripts.benchmark.stampede import StampedePlan

MEMORY_LIMIT_S = 300
INVALIDATION_SAMPLES = 300
POLL_LIMIT_S = 2.0
INVALIDATION_TARGET_P99_MS = 10.0


@dataclass(frozen=True)
class Plan:
    quick: bool
    throughput: Rounds
    outage_rounds: int
    memory_rounds: int
    memory_ops: int
    outage: OutagePlan
    failover_runs: int = 3
    stampede: StampedePlan = StampedePlan()


@dataclass(frozen=True)
class Run:
    """What a section gets: the processes, the full and the halved load, the plan."""

    procs: Processes
    generator: Generator
    split: Generator
    plan: Plan
    value: bytes
    value_file: Path


@dataclass(frozen=True)
class Section:
    key: str  # of its figures in the report
    run: Callable[[Run], Figures]
    report: Callable[[Figures], Report]


def run_memory(run: Run) -> Figures:
    """memory.py in its own process, importing the tier of the checkout under test."""
    return result(run.procs.helper("memory", "--ops", str(run.plan.memory_ops),
                                   "--rounds", str(run.plan.memory_rounds),
                                   root=run.procs.service_root), MEMORY_LIMIT_S)


def memory_report(memory: Figures) -> Report:
    # Held against TTLCache, the like-for-like cache (docs/performance.md).
    rows, goals = [], []
    for key, title, op in (("get_hit", "get hit", "get-hit"), ("set", "set (evicting)", "set")):
        f = memory[key]
        goals.append(target(f"memory tier {op} vs TTLCache", f["ratio_vs_ttl"],
                            memory["target_ratio"], "x", at_least=True))
        rows.append(row(title, *(f"{f[name] / 1e6:.2f}" for name in (
            "memory_tier", "lru_cache", "ttl_cache")), f"{f['ratio_vs_lru']:.2f}x",
            f"{f['ratio_vs_ttl']:.2f}x", goal=goals[-1]))
    return [table("in-process: the memory tier against cachetools, M ops/s; the target is "
                  "vs TTLCache", ("memory tier", "LRUCache", "TTLCache", "vs LRU", "vs TTL"), rows,
                  (f"get hit vs LRUCache.get(key) (None on a miss, as the tier's get): "
                   f"{memory['get_hit']['ratio_vs_lru_get']:.2f}x; the tier reads the clock on "
                   "every get, so it never serves an expired entry",))], goals


def run_invalidation(run: Run) -> Figures:
    """A PUTs each key, B polls it until it serves the new value."""
    redis = run.procs.redis("redis-invalidation")
    a, b = ready(*(run.procs.service(f"service-invalidation-{name}", wl.service_env(
        "invalidation", redis.url), wait=False) for name in ("a", "b")))
    writer, reader = Connection(a.port), Connection(b.port)
    write, read = writer.call, reader.call
    latencies, round_trips = [], []
    try:
        for i in range(INVALIDATION_SAMPLES):
            path = f"/cache/default/inv{i}"
            write("PUT", path, b"v0", expect=204)
            read("GET", path, expect=200)  # b's memory holds v0
            write("PUT", path, b"v1", expect=204)
            acknowledged = time.perf_counter()
            while True:
                started = time.perf_counter()
                status, _, body = read("GET", path)
                seen = time.perf_counter()
                if status == 200 and body == b"v1":
                    break
                if seen - acknowledged > POLL_LIMIT_S:
                    raise BenchError(f"{path}: the reader still served {body[:20]!r} after 2 s")
            latencies.append((seen - acknowledged) * 1000)
            round_trips.append((seen - started) * 1000)
    finally:
        writer.close()
        reader.close()
    return {"samples": INVALIDATION_SAMPLES, "p50_ms": statistics.median(latencies),
            "p99_ms": percentile(latencies, 99), "max_ms": max(latencies),
            "get_round_trip_p50_ms": statistics.median(round_trips),
            "target_p99_ms": INVALIDATION_TARGET_P99_MS}


def invalidation_report(figures: Figures) -> Report:
    goal = target("invalidation latency p99 (A's PUT acknowledged -> B serves it)",
                  figures["p99_ms"], figures["target_p99_ms"], "ms")
    return [table("invalidation: B serves A's new value, from A's PUT acknowledged",
                  ("keys", "p50 ms", "p99 ms", "max ms"),
                  (row("A's PUT -> B serves it", str(figures["samples"]), n(figures["p50_ms"]),
                       n(figures["p99_ms"]), n(figures["max_ms"]),
                       target=f"p99 <= {figures['target_p99_ms']:.1f} ms", goal=goal),),
                  (f"polling resolution: one GET round trip, p50 "
                   f"{n(figures['get_round_trip_p50_ms'])} ms",))], [goal]


SECTIONS = {
    "memory": Section("memory_tier", run_memory, memory_report),
    "throughput": Section("throughput", throughput.run_throughput, throughput.throughput_report),
    "outage": Section("outage", outage.run_outage, outage.outage_report),
    "invalidation": Section("invalidation", run_invalidation, invalidation_report),
    "failover": Section("failover", failover.run_failovers, failover.failover_report),
    "stampede": Section("stampede", stampede.run_stampede, stampede.stampede_report),
    "batch": Section("batch", throughput.run_batch, throughput.batch_report),
    "workers": Section("workers", throughput.run_workers, throughput.workers_report),
}
# What the report prints, in order: every section's tables, and --compare's.
REPORTED = [*((s.key, s.report) for s in SECTIONS.values()), ("compare", ab.compare_report)]


def machine() -> dict[str, Any]:
    model, cpus = "unknown CPU", 0
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                model, cpus = value.strip(), cpus + 1
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                           check=False).stdout.split()
    version = next((w[2:] for w in redis if w.startswith("v=")), "unknown")
    return {"cpu_model": model, "cpus": cpus, "python": platform.python_version(),
            "kernel": platform.release(), "redis_server": version}


def run_sections(run: Run, sections: set[str]) -> Figures:
    """Every requested section's figures, keyed as in the JSON."""
    report: Figures = {}
    runtimes = {}
    for name, section in SECTIONS.items():
        started = time.monotonic()
        if name in sections:
            report[section.key] = section.run(run)
        runtimes[name] = time.monotonic() - started
    return {**report, "section_runtimes_s": runtimes}


def tables_and_targets(report: Figures) -> Report:
    """Every table of the report, in order, the targets' last; and the targets."""
    tables, targets = [], []
    for key, report_of in REPORTED:
        if key in report:
            found = report_of(report[key])
            tables += found[0]
            targets += found[1]
    return [*tables, targets_table(targets)], targets
