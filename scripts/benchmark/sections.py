"""The sections of one bench run, in order; each starts its own servers.

    memory        memory.py in its own process, before any server starts
    throughput    one redis-server; the service twice (default memory tier,
                  and CACHE_LRU_MAX_ITEMS=0: every GET a Redis hit) and the
                  three bare baselines, `instances` of each
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
from scripts.benchmark.batch import run_batch
from scripts.benchmark.compare import Comparison, Rounds, compare
from scripts.benchmark.failover import run_failovers
from scripts.benchmark.invalidation import measure_invalidation
from scripts.benchmark.load import Generator
from scripts.benchmark.outage import OutagePlan, run_outage
from scripts.benchmark.processes import Processes
from scripts.benchmark.stampede import StampedePlan, run_stampede
from scripts.benchmark.workers import run_workers

MEMORY_LIMIT_S = 300
# The sections and the key of each one's figures in the report, in order.
KEYS = {"memory": "memory_tier", "throughput": "throughput", "outage": "outage",
        "invalidation": "invalidation", "failover": "failover", "stampede": "stampede",
        "batch": "batch", "workers": "workers"}


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


def machine() -> dict[str, Any]:
    model = "unknown CPU"
    cpus = 0
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            name, _, value = line.partition(":")
            if name.strip() == "model name":
                model = value.strip()
                cpus += 1
    redis = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                           check=False).stdout.split()
    version = next((w[2:] for w in redis if w.startswith("v=")), "unknown")
    return {"cpu_model": model, "cpus": cpus, "python": platform.python_version(),
            "kernel": platform.release(), "redis_server": version}


def run_throughput(procs: Processes, generator: Generator, split: Generator, plan: Plan,
                   value: bytes, value_file: Path) -> dict[str, Any]:
    redis = procs.redis("redis")
    # Every baseline is started at once (each takes most of a second to
    # import), then waited for; `instances` of each kind (see Comparison.pair).
    instances = range(plan.throughput.instances)
    bare = tuple(procs.baseline(f"baseline-bytes-{i}", "bytes", "--value-file",
                                str(value_file), wait=False) for i in instances)
    bare_get = tuple(procs.baseline(f"baseline-redis-get-{i}", "redis-get", "--redis-url",
                                    redis.url, wait=False) for i in instances)
    bare_set = tuple(procs.baseline(f"baseline-redis-set-{i}", "redis-set", "--redis-url",
                                    redis.url, wait=False) for i in instances)
    memory, redis_only = wl.hot_services(procs, "service", redis.url, len(instances), value)
    for server in (*bare, *bare_get, *bare_set):
        server.wait_answering()
    wl.seed_hot_keys(bare_set[0].url, value)
    comparisons = (
        Comparison("memory_hit_get", "GET memory hit", wl.hot_get(), memory, bare,
                   "bare aiohttp handler returning the same bytes", 0.9),
        Comparison("redis_hit_get", "GET Redis hit", wl.hot_get(), redis_only, bare_get,
                   "bare aiohttp handler, one redis-py GET per request", 1.5),
        Comparison("put", "PUT", wl.put(value), memory, bare_set,
                   "bare aiohttp handler, one redis-py SET per request", 1.5),
    )
    return {c.key: compare(generator, split, c, plan.throughput) for c in comparisons}


def run_invalidation(procs: Processes) -> dict[str, Any]:
    redis = procs.redis("redis-invalidation")
    a, b = (procs.service(f"service-invalidation-{name}", wl.service_env(
        "invalidation", redis.url)) for name in ("a", "b"))
    for service in (a, b):
        service.wait_ready()
    return measure_invalidation(a, b)


def run_sections(procs: Processes, generators: tuple[Generator, Generator], plan: Plan,
                 sections: set[str], run_dir: Path) -> dict[str, Any]:
    """Every requested section's figures, keyed as in the JSON."""
    value = wl.make_value(plan.value_bytes)
    value_file = run_dir / "value.bin"
    value_file.write_bytes(value)
    rounds, generator = plan.throughput, generators[0]
    runs: dict[str, Callable[[], dict[str, Any]]] = {
        # memory.py in its own process, importing the tier of the checkout under test.
        "memory": lambda: procs.helper(
            "memory", "memory", "--ops", str(plan.memory_ops), "--rounds",
            str(plan.memory_rounds), root=procs.service_root,
        ).result(MEMORY_LIMIT_S),
        "throughput": lambda: run_throughput(procs, *generators, plan, value, value_file),
        "outage": lambda: run_outage(procs, generator, plan.outage, plan.outage_rounds, value),
        "invalidation": lambda: run_invalidation(procs),
        "failover": lambda: run_failovers(procs, plan.failover_runs),
        "stampede": lambda: run_stampede(procs, generators, plan.stampede, value),
        "batch": lambda: run_batch(procs, generator, rounds.rounds, rounds.duration_s),
        "workers": lambda: run_workers(procs, generators, rounds, value),
    }
    report: dict[str, Any] = {}
    runtimes = {}
    for name, run in runs.items():
        started = time.monotonic()
        if name in sections:
            report[KEYS[name]] = run()
        runtimes[name] = time.monotonic() - started
    report["section_runtimes_s"] = runtimes
    return report
