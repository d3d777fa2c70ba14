"""The sections of one bench run, in order, each with its report lines and
targets; each starts its own servers.

    memory        memory.py in its own process, before any server starts
    throughput    one redis-server; the service twice (default memory tier,
                  and CACHE_LRU_MAX_ITEMS=0: every GET a Redis hit) and the
                  bare baselines, `instances` of each (throughput.py)
    outage        its own redis-server and service (outage.py)
    invalidation  one redis-server, two services: how soon B serves A's write
    failover, stampede, batch, workers   only when asked for: their modules
"""

from __future__ import annotations

import platform
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.ab import compare_lines
from scripts.benchmark.compare import Rounds
from scripts.benchmark.failover import failover_lines, failover_targets, run_failovers
from scripts.benchmark.invalidation import invalidation_lines, invalidation_targets, run_invalidation
from scripts.benchmark.load import Generator
from scripts.benchmark.outage import OutagePlan, outage_lines, outage_targets, run_outage
from scripts.benchmark.processes import Processes, result
from scripts.benchmark.report import Figures, Lines, target
from scripts.benchmark.stampede import StampedePlan, run_stampede, stampede_lines, stampede_targets
from scripts.benchmark.throughput import (
    batch_lines,
    batch_targets,
    run_batch,
    run_throughput,
    throughput_lines,
    throughput_targets,
)
from scripts.benchmark.workers import run_workers, worker_lines

MEMORY_LIMIT_S = 300


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
    lines: Lines
    targets: Callable[[Figures], list[Figures]] = lambda figures: []


def memory_lines(memory: Figures) -> list[str]:
    lines = ["", "in-process: the memory tier against cachetools",
             (f"{'in-process (M ops/s)':<24}{'memory tier':>12}{'LRUCache':>10}"
              f"{'TTLCache':>10}{'vs LRU':>9}{'vs TTL':>9}")]
    for key, title in (("get_hit", "get hit"), ("set", "set (evicting)")):
        row = memory[key]
        lines.append(f"{title:<24}{row['memory_tier'] / 1e6:>12.2f}{row['lru_cache'] / 1e6:>10.2f}"
                     f"{row['ttl_cache'] / 1e6:>10.2f}{row['ratio_vs_lru']:>8.2f}x"
                     f"{row['ratio_vs_ttl']:>8.2f}x")
    return [*lines, (f"  get hit vs LRUCache.get(key) (None on a miss, as the tier's get): "
                     f"{memory['get_hit']['ratio_vs_lru_get']:.2f}x; the tier reads the clock on "
                     "every get, so it never serves an expired entry")]


def memory_targets(memory: Figures) -> list[Figures]:
    # Held against TTLCache, the like-for-like cache (LRU with per-entry
    # expiry): LRUCache reads no clock and stays in the table for reference
    # only, since the tier is plain Python methods by choice (a closure or a
    # compiled build bought ~40 ns of a ~54 us request).
    return [target(f"memory tier {op} vs TTLCache", memory[key]["ratio_vs_ttl"],
                   memory["target_ratio"], "x", at_least=True)
            for key, op in (("get_hit", "get-hit"), ("set", "set"))]


SECTIONS = {
    # memory.py in its own process, importing the tier of the checkout under test.
    "memory": Section("memory_tier", lambda r: result(r.procs.helper(
        "memory", "memory", "--ops", str(r.plan.memory_ops), "--rounds",
        str(r.plan.memory_rounds), root=r.procs.service_root), MEMORY_LIMIT_S),
        memory_lines, memory_targets),
    "throughput": Section("throughput", lambda r: run_throughput(
        r.procs, r.generator, r.split, r.plan.throughput, r.value, r.value_file),
        throughput_lines, throughput_targets),
    "outage": Section("outage", lambda r: run_outage(
        r.procs, r.generator, r.plan.outage, r.plan.outage_rounds, r.value),
        outage_lines, outage_targets),
    "invalidation": Section("invalidation", lambda r: run_invalidation(r.procs),
                            invalidation_lines, invalidation_targets),
    "failover": Section("failover", lambda r: run_failovers(r.procs, r.plan.failover_runs),
                        failover_lines, failover_targets),
    "stampede": Section("stampede", lambda r: run_stampede(
        r.procs, (r.generator, r.split), r.plan.stampede, r.value),
        stampede_lines, stampede_targets),
    "batch": Section("batch", lambda r: run_batch(
        r.procs, r.generator, r.plan.throughput.rounds, r.plan.throughput.duration_s),
        batch_lines, batch_targets),
    "workers": Section("workers", lambda r: run_workers(
        r.procs, (r.generator, r.split), r.plan.throughput, r.value), worker_lines),
}
# What the report prints, in order: every section's lines, and --compare's.
REPORTED = [*((s.key, s.lines) for s in SECTIONS.values()), ("compare", compare_lines)]


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


def values(run_dir: Path, value_bytes: int) -> tuple[bytes, Path]:
    """The stored value, and a file holding it (the bare handler's answer)."""
    value = wl.make_value(value_bytes)
    (run_dir / "value.bin").write_bytes(value)
    return value, run_dir / "value.bin"
