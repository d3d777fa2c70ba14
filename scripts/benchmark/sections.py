"""The sections of one bench run, in order, each with its report lines and
targets; each starts its own servers.

    memory        memory.py in its own process, before any server starts
    throughput    one redis-server; the service twice (default memory tier,
                  and CACHE_LRU_MAX_ITEMS=0: every GET a Redis hit) and the
                  bare baselines, `instances` of each (throughput.py)
    outage        its own redis-server and service (outage.py)
    invalidation  one redis-server, two services: how soon B serves A's write
                  (here, below)
    failover, stampede, batch, workers   only when asked for: their modules

Invalidation latency, how soon another instance serves a new value:

    B GET k (its memory now holds v0) ─► A PUT k=v1, acknowledged at t0
    ─► B GET k, again and again, until it answers v1 at t1: latency t1 - t0

Two services on one Redis with one key prefix; one key per sample, so every
sample starts from B's memory holding the old value. The latency includes
one GET round trip to B (the polling resolution), reported beside it.
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

from scripts.benchmark import workloads as wl
from scripts.benchmark.ab import compare_tables
from scripts.benchmark.compare import Rounds
from scripts.benchmark.failover import failover_tables, failover_targets, run_failovers
from scripts.benchmark.load import Generator
from scripts.benchmark.outage import OutagePlan, outage_tables, outage_targets, run_outage
from scripts.benchmark.processes import BenchError, Connection, Processes, ready, result
from scripts.benchmark.report import Figures, at_least, n, row, table, target, targets_table
from scripts.benchmark.stampede import StampedePlan, run_stampede, stampede_tables, stampede_targets
from scripts.benchmark.throughput import (
    batch_tables,
    batch_targets,
    run_batch,
    run_throughput,
    throughput_tables,
    throughput_targets,
)
from scripts.benchmark.workers import run_workers, worker_tables
from scripts.harness.service_process import ServiceProcess

MEMORY_LIMIT_S = 300
INVALIDATION_SAMPLES = 300
POLL_LIMIT_S = 2.0
INVALIDATION_TARGET_P99_MS = 10.0
Tables = Callable[[Figures], list[Figures]]


@dataclass(frozen=True)
class Plan:
    quick: bool
    throughput: Rounds
    outage_rounds: int
    memory_rounds: int
    memory_ops: int
    value_bytes: int
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
    tables: Tables
    targets: Callable[[Figures], list[Figures]] = lambda figures: []


def memory_tables(memory: Figures) -> list[Figures]:
    limit, rows = memory["target_ratio"], []
    for key, title in (("get_hit", "get hit"), ("set", "set (evicting)")):
        f = memory[key]
        rows.append(row(title, *(f"{f[name] / 1e6:.2f}" for name in (
            "memory_tier", "lru_cache", "ttl_cache")), f"{f['ratio_vs_lru']:.2f}x",
            f"{f['ratio_vs_ttl']:.2f}x", target=at_least(limit), met=f["ratio_vs_ttl"] >= limit))
    return [table("in-process: the memory tier against cachetools, M ops/s; the target is "
                  "vs TTLCache", ("memory tier", "LRUCache", "TTLCache", "vs LRU", "vs TTL"), rows,
                  (f"get hit vs LRUCache.get(key) (None on a miss, as the tier's get): "
                   f"{memory['get_hit']['ratio_vs_lru_get']:.2f}x; the tier reads the clock on "
                   "every get, so it never serves an expired entry",))]


def memory_targets(memory: Figures) -> list[Figures]:
    # Held against TTLCache, the like-for-like cache (LRU with per-entry
    # expiry): LRUCache reads no clock and stays in the table for reference
    # only, since the tier is plain Python methods by choice (a closure or a
    # compiled build bought ~40 ns of a ~54 us request).
    return [target(f"memory tier {op} vs TTLCache", memory[key]["ratio_vs_ttl"],
                   memory["target_ratio"], "x", at_least=True)
            for key, op in (("get_hit", "get-hit"), ("set", "set"))]


def measure_invalidation(a: ServiceProcess, b: ServiceProcess,
                         samples: int = INVALIDATION_SAMPLES) -> dict[str, Any]:
    """Latency figures of `samples` keys written through `a`, read through `b`
    (two services of one Redis and one key prefix)."""
    writer, reader = Connection(a.port), Connection(b.port)
    write, read = writer.call, reader.call
    latencies, round_trips = [], []
    try:
        for i in range(samples):
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
    return {"samples": samples, "p50_ms": statistics.median(latencies),
            "p99_ms": sorted(latencies)[min(samples - 1, int(0.99 * samples))],
            "max_ms": max(latencies), "get_round_trip_p50_ms": statistics.median(round_trips),
            "target_p99_ms": INVALIDATION_TARGET_P99_MS}


def run_invalidation(procs: Processes) -> dict[str, Any]:
    redis = procs.redis("redis-invalidation")
    a, b = ready(*(procs.service(f"service-invalidation-{name}", wl.service_env(
        "invalidation", redis.url), wait=False) for name in ("a", "b")))
    return measure_invalidation(a, b)


def invalidation_tables(figures: dict[str, Any]) -> list[Figures]:
    return [table("invalidation: B serves A's new value, from A's PUT acknowledged",
                  ("keys", "p50 ms", "p99 ms", "max ms"),
                  (row("A's PUT -> B serves it", str(figures["samples"]), n(figures["p50_ms"]),
                       n(figures["p99_ms"]), n(figures["max_ms"]),
                       target=f"p99 <= {figures['target_p99_ms']:.1f} ms",
                       met=figures["p99_ms"] <= figures["target_p99_ms"]),),
                  (f"polling resolution: one GET round trip, p50 "
                   f"{n(figures['get_round_trip_p50_ms'])} ms",))]


def invalidation_targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    return [target("invalidation latency p99 (A's PUT acknowledged -> B serves it)",
                   figures["p99_ms"], figures["target_p99_ms"], "ms")]

SECTIONS = {
    # memory.py in its own process, importing the tier of the checkout under test.
    "memory": Section("memory_tier", lambda r: result(r.procs.helper(
        "memory", "memory", "--ops", str(r.plan.memory_ops), "--rounds",
        str(r.plan.memory_rounds), root=r.procs.service_root), MEMORY_LIMIT_S),
        memory_tables, memory_targets),
    "throughput": Section("throughput", lambda r: run_throughput(
        r.procs, r.generator, r.split, r.plan.throughput, r.value, r.value_file),
        throughput_tables, throughput_targets),
    "outage": Section("outage", lambda r: run_outage(
        r.procs, r.generator, r.plan.outage, r.plan.outage_rounds, r.value),
        outage_tables, outage_targets),
    "invalidation": Section("invalidation", lambda r: run_invalidation(r.procs),
                            invalidation_tables, invalidation_targets),
    "failover": Section("failover", lambda r: run_failovers(r.procs, r.plan.failover_runs),
                        failover_tables, failover_targets),
    "stampede": Section("stampede", lambda r: run_stampede(
        r.procs, (r.generator, r.split), r.plan.stampede, r.value),
        stampede_tables, stampede_targets),
    "batch": Section("batch", lambda r: run_batch(
        r.procs, r.generator, r.plan.throughput.rounds, r.plan.throughput.duration_s),
        batch_tables, batch_targets),
    "workers": Section("workers", lambda r: run_workers(
        r.procs, (r.generator, r.split), r.plan.throughput, r.value), worker_tables),
}
# What the report prints, in order: every section's tables, and --compare's.
REPORTED = [*((s.key, s.tables) for s in SECTIONS.values()), ("compare", compare_tables)]


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


def evaluate(report: Figures) -> list[Figures]:
    return [found for s in SECTIONS.values() if s.key in report for found in s.targets(report[s.key])]


def tables(report: Figures) -> list[Figures]:
    """Every table of the report, in order, the targets last."""
    return [*(found for key, tables_of in REPORTED if key in report
              for found in tables_of(report[key])), targets_table(report["targets"])]


def values(run_dir: Path, value_bytes: int) -> tuple[bytes, Path]:
    """The stored value, and a file holding it (the bare handler's answer)."""
    value = wl.make_value(value_bytes)
    (run_dir / "value.bin").write_bytes(value)
    return value, run_dir / "value.bin"
