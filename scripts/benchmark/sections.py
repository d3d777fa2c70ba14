"""The sections of one bench run: which servers each starts and what it measures.

    throughput  one redis-server; the service twice (default memory tier, and
                CACHE_LRU_MAX_ITEMS=0 so every GET is a Redis hit); the three
                bare baselines; comparisons 1-3 of the targets
    outage      its own redis-server and service (fast reconnects), so killing
                Redis disturbs nothing else; comparison 4
    memory      in this process, before any server starts; comparison 5
    invalidation  one redis-server, two services: how soon B serves A's write
    failover    (only when asked for) per run, fresh Sentinel and Cluster
                setups and services; a master killed under light load
    stampede    (only when asked for) one redis-server, two services: N
                callers miss one key, with and without leases; and what
                ?lease=1 costs a memory hit
    batch       (only when asked for) one redis-server, two services and
                Webdis: keys/s through _mget of 100 keys (batch.py)
    workers     (only when asked for) one redis-server; the service on uvloop
                and on asyncio's loop, and with WORKERS=1 and 2 (workers.py)
"""

from __future__ import annotations

import json
import platform
import statistics
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.benchmark import invalidation
from scripts.benchmark import workloads as wl
from scripts.benchmark.batch import run_batch
from scripts.benchmark.compare import Comparison, Rounds, compare, run_one
from scripts.benchmark.failover import run_failovers
from scripts.benchmark.load import Generator
from scripts.benchmark.outage import OutagePlan, run_outages, wait_ready
from scripts.benchmark.placement import CPUs, child_setup
from scripts.benchmark.processes import (
    BenchError,
    HttpProcess,
    Processes,
    module_argv,
    module_env,
)
from scripts.benchmark.stampede import StampedePlan, run_stampede
from scripts.benchmark.workers import run_workers

# The outage service reconnects fast so a round takes seconds, not minutes;
# every other setting (REDIS_COMMAND_TIMEOUT_MS=250 included) is the default.
OUTAGE_LINK_ENV = {
    "REDIS_LAZY_CONNECT": "false",
    "REDIS_COMMAND_TIMEOUT_MS": "250",
    "REDIS_HEALTH_CHECK_INTERVAL_MS": "250",
    "REDIS_BACKOFF_BASE_MS": "100",
    "REDIS_BACKOFF_MAX_MS": "1000",
    "REDIS_CONNECT_TIMEOUT_MS": "1000",
}


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


def service_env(name: str, redis_url: str, **env: str) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "REDIS_LAZY_CONNECT": "false",
            "CACHE_KEY_PREFIX": f"bench-{name}", **env}


def start_service(procs: Processes, name: str, redis_url: str, root: Path | None = None,
                  env: Mapping[str, str] | None = None) -> HttpProcess:
    """The service (from `root`, default the run's checkout), its link ready."""
    service = procs.service(name, service_env(name, redis_url, **(env or {})), root)
    wait_ready(service)
    return service


def run_throughput(procs: Processes, generator: Generator, split: Generator, plan: Plan,
                   value: bytes, value_file: Path) -> dict[str, Any]:
    redis = procs.redis("redis")
    # Every process is started at once (each takes most of a second to
    # import), then waited for; `instances` of each kind (see Comparison.pair).
    instances = range(plan.throughput.instances)
    memory = tuple(procs.service(f"service-memory-{i}", service_env(
        "service-memory", redis.url), wait=False) for i in instances)
    redis_only = tuple(procs.service(f"service-redis-{i}", service_env(
        "service-redis", redis.url, CACHE_LRU_MAX_ITEMS="0"), wait=False) for i in instances)
    bare = tuple(procs.baseline(f"baseline-bytes-{i}", "bytes", "--value-file",
                                str(value_file), wait=False) for i in instances)
    bare_get = tuple(procs.baseline(f"baseline-redis-get-{i}", "redis-get", "--redis-url",
                                    redis.url, wait=False) for i in instances)
    bare_set = tuple(procs.baseline(f"baseline-redis-set-{i}", "redis-set", "--redis-url",
                                    redis.url, wait=False) for i in instances)
    for server in (*memory, *redis_only, *bare, *bare_get, *bare_set):
        server.wait_answering()
    for service in (*memory, *redis_only):
        wait_ready(service)
    # The instances of a kind share one key prefix, so seeding one seeds Redis
    # for all; each memory tier then fills by reading (see warm_hot_keys).
    for server in (memory[0], redis_only[0], bare_set[0]):
        wl.seed_hot_keys(server.url, value)
    for service in memory:
        wl.warm_hot_keys(service.url)
    for service in memory:
        wl.check_hit(service.url, "hit-memory")
    for service in redis_only:
        wl.check_hit(service.url, "hit-redis")
    comparisons = (
        Comparison("memory_hit_get", "GET memory hit", wl.hot_get(), memory, bare,
                   "bare aiohttp handler returning the same bytes", 0.9),
        Comparison("redis_hit_get", "GET Redis hit", wl.hot_get(), redis_only, bare_get,
                   "bare aiohttp handler, one redis-py GET per request", 1.5),
        Comparison("put", "PUT", wl.put(value), memory, bare_set,
                   "bare aiohttp handler, one redis-py SET per request", 1.5),
    )
    return {c.key: compare(generator, split, c, plan.throughput) for c in comparisons}


def run_outage(procs: Processes, generator: Generator, plan: Plan,
               value: bytes) -> dict[str, Any]:
    redis = procs.redis("redis-outage")
    service = start_service(procs, "service-outage", redis.url, env=OUTAGE_LINK_ENV)
    wl.seed_hot_keys(service.url, value)
    o = plan.outage
    mix = wl.outage_mix(value)
    results = run_outages(generator, service, redis, mix, o, plan.outage_rounds)
    # What the same mix costs when Redis plays no part at all: the floor an
    # outage, once detected, is held to (its PUTs cost more than memory hits).
    memory_only = procs.service("service-memory-only", {"REDIS_URL": ""})
    wl.seed_hot_keys(memory_only.url, value)
    reference = [run_one(generator, memory_only, mix, o.outage_s).load
                 for _ in range(plan.outage_rounds)]
    return {
        "workload": "3 memory-hit GETs : 1 PUT",
        "link": {
            "env": OUTAGE_LINK_ENV,
            "command_timeout_ms": int(OUTAGE_LINK_ENV["REDIS_COMMAND_TIMEOUT_MS"]),
            "health_check_interval_ms": int(OUTAGE_LINK_ENV["REDIS_HEALTH_CHECK_INTERVAL_MS"]),
        },
        "plan": {"lead_s": o.lead_s, "back_after_s": o.back_after_s},
        "phase_s": {"failure": o.failure_s, "outage": o.outage_s, "recovery": o.recovery_s},
        "memory_only_mix": {
            "p50_ms": statistics.median(r.p50_ms for r in reference),
            "p99_ms": statistics.median(r.p99_ms for r in reference),
            "rounds": len(reference),
        },
        **results,
    }


def run_memory(service_root: Path, cpus: CPUs, ops: int, rounds: int) -> dict[str, Any]:
    """memory.py in its own process, importing `service_root`'s tier."""
    done = subprocess.run(
        module_argv("memory", "--ops", str(ops), "--rounds", str(rounds)),
        # The service from `service_root` (cwd and first on the path), the rest from here.
        cwd=service_root, env=module_env(service_root), capture_output=True, text=True,
        timeout=300, check=False,
        # The bench runs no threads, so preexec_fn is safe here.
        preexec_fn=child_setup(cpus),
    )
    if done.returncode != 0:
        raise BenchError(f"memory.py failed: {done.stderr.strip()[-800:]}")
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures


def run_invalidation(procs: Processes) -> dict[str, Any]:
    redis = procs.redis("redis-invalidation")
    env = {"CACHE_KEY_PREFIX": invalidation.PREFIX}
    a = start_service(procs, "service-invalidation-a", redis.url, env=env)
    b = start_service(procs, "service-invalidation-b", redis.url, env=env)
    return invalidation.measure_invalidation(a, b)


def run_sections(procs: Processes, generators: tuple[Generator, Generator], plan: Plan,
                 sections: set[str], run_dir: Path) -> dict[str, Any]:
    """Every requested section's figures, keyed as in the JSON."""
    report: dict[str, Any] = {}
    value = wl.make_value(plan.value_bytes)
    value_file = run_dir / "value.bin"
    value_file.write_bytes(value)
    started = time.monotonic()
    if "memory" in sections:
        report["memory_tier"] = run_memory(procs.service_root, procs.placement.servers,
                                           plan.memory_ops, plan.memory_rounds)
    runtimes = {"memory": time.monotonic() - started}
    if "throughput" in sections:
        report["throughput"] = run_throughput(procs, *generators, plan, value, value_file)
    runtimes["throughput"] = time.monotonic() - started - sum(runtimes.values())
    if "outage" in sections:
        report["outage"] = run_outage(procs, generators[0], plan, value)
    runtimes["outage"] = time.monotonic() - started - sum(runtimes.values())
    if "invalidation" in sections:
        report["invalidation"] = run_invalidation(procs)
    runtimes["invalidation"] = time.monotonic() - started - sum(runtimes.values())
    if "failover" in sections:
        report["failover"] = run_failovers(procs, plan.failover_runs)
    runtimes["failover"] = time.monotonic() - started - sum(runtimes.values())
    if "stampede" in sections:
        report["stampede"] = run_stampede(procs, generators, plan.stampede, value)
    runtimes["stampede"] = time.monotonic() - started - sum(runtimes.values())
    if "batch" in sections:
        report["batch"] = run_batch(procs, generators[0], plan.throughput.rounds,
                                    plan.throughput.duration_s)
    runtimes["batch"] = time.monotonic() - started - sum(runtimes.values())
    if "workers" in sections:
        report["workers"] = run_workers(procs, generators, plan.throughput, value)
    runtimes["workers"] = time.monotonic() - started - sum(runtimes.values())
    report["section_runtimes_s"] = runtimes
    return report
