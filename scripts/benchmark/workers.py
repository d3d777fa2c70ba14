"""Event loops and worker processes (`scripts/bench --only workers`).

    event loop  the service on uvloop against the same code on asyncio's loop
                (EVENT_LOOP), memory-hit and Redis-hit GETs, compared as the
                throughput section compares (alone, then side by side on the
                server CPU)
    workers     WORKERS=1 against WORKERS=2, each alone under the full load,
                in alternating order: req/s, p50/p99 and CPU us per request
                (the arbiter and its workers together)

What a 2-core machine can show about workers: the service may use both CPUs
here, but the load generator (wrk) and redis-server run on the second one, so
the second worker shares a core with them and cannot add a core's worth of
throughput. Memory hits, where the server is the bottleneck, show the most;
what they show is a lower bound of the scaling on a machine with a core per
worker and the load coming from elsewhere.
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import Comparison, Rounds, compare, run_one, summarize
from scripts.benchmark.load import Generator, Workload
from scripts.benchmark.placement import Placement
from scripts.benchmark.processes import BenchError, HttpProcess, Processes, http_json

WORKER_COUNTS = (1, 2)
READY_TIMEOUT_S = 15.0
WARM_PASSES = 50


def run_workers(procs: Processes, generators: tuple[Generator, Generator], plan: Rounds,
                value: bytes) -> dict[str, Any]:
    redis = procs.redis("redis-workers")
    return {
        "event_loop": event_loops(procs, generators, plan, redis.url, value),
        "workers": worker_counts(procs, generators[0], plan, redis.url, value),
    }


def _env(name: str, redis_url: str, **env: str) -> dict[str, str]:
    return {"REDIS_URL": redis_url, "REDIS_LAZY_CONNECT": "false",
            "CACHE_KEY_PREFIX": f"bench-{name}", **env}


def event_loops(procs: Processes, generators: tuple[Generator, Generator], plan: Rounds,
                redis_url: str, value: bytes) -> dict[str, Any]:
    """uvloop against asyncio's loop, the rest of the service the same."""
    started: dict[tuple[str, str], tuple[HttpProcess, ...]] = {}
    for loop in ("uvloop", "asyncio"):
        for case, extra in (("memory", {}), ("redis", {"CACHE_LRU_MAX_ITEMS": "0"})):
            name = f"loop-{case}"  # one prefix per case: both loops read the same keys
            started[loop, case] = tuple(
                procs.service(f"{name}-{loop}-{i}", _env(name, redis_url, EVENT_LOOP=loop,
                                                         **extra), wait=False)
                for i in range(plan.instances))
    for servers in started.values():
        for server in servers:
            server.wait_answering()
            wait_healthy(server)
    for case, hit in (("memory", "hit-memory"), ("redis", "hit-redis")):
        wl.seed_hot_keys(started["uvloop", case][0].url, value)
        for server in (*started["uvloop", case], *started["asyncio", case]):
            warm(server, hit)
    comparisons = (
        Comparison("memory_hit_get", "GET memory hit", wl.hot_get(), started["uvloop", "memory"],
                   started["asyncio", "memory"], "the same service on asyncio's loop", 1.0),
        Comparison("redis_hit_get", "GET Redis hit", wl.hot_get(), started["uvloop", "redis"],
                   started["asyncio", "redis"], "the same service on asyncio's loop", 1.0),
    )
    return {c.key: compare(*generators, c, plan) for c in comparisons}


def worker_counts(procs: Processes, generator: Generator, plan: Rounds, redis_url: str,
                  value: bytes) -> dict[str, Any]:
    """WORKERS=1 and 2, free to use every CPU, one after the other."""
    group = procs.group("workers")
    unpinned = Processes(group.run_dir, group.service_root,
                         Placement(servers=None, others=procs.placement.others))
    group.started.append(unpinned)
    results: dict[str, Any] = {}
    for case, hit, extra in (("memory_hit_get", "hit-memory", {}),
                             ("redis_hit_get", "hit-redis", {"CACHE_LRU_MAX_ITEMS": "0"})):
        servers = {count: unpinned.service(f"{case}-workers-{count}", _env(
            f"workers-{case}", redis_url, WORKERS=str(count), **extra)) for count in WORKER_COUNTS}
        for server in servers.values():
            wait_healthy(server)
        wl.seed_hot_keys(servers[1].url, value)
        for server in servers.values():
            warm(server, hit)
        results[case] = _alternate(generator, servers, wl.hot_get(), plan)
    return results


def _alternate(generator: Generator, servers: dict[int, HttpProcess], workload: Workload,
               plan: Rounds) -> dict[str, Any]:
    measured: dict[int, list[Any]] = {count: [] for count in servers}
    for index in range(plan.rounds):
        order = list(servers) if index % 2 == 0 else list(servers)[::-1]
        for count in order:
            measured[count].append(run_one(generator, servers[count], workload, plan.duration_s))
    scaling = [two.load.rps / one.load.rps if one.load.rps else 0.0
               for one, two in zip(measured[1], measured[2], strict=True)]
    return {**{f"workers_{count}": summarize(rows) for count, rows in measured.items()},
            "scaling": statistics.median(scaling), "scaling_per_round": scaling}


def wait_healthy(server: HttpProcess) -> None:
    """/health/detailed healthy: with workers, every worker's link is ready."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        status, body = http_json(server.url + "/health/detailed")
        if status == 200 and body["status"] == "healthy":
            return
        time.sleep(0.02)
    raise BenchError(f"{server.name}: not healthy within {READY_TIMEOUT_S:.0f} s")


def warm(server: HttpProcess, hit: str) -> None:
    """Until a pass of new connections answers every hot key as `hit`: each
    connection reaches whichever worker accepts it, and each worker has its
    own memory tier to fill."""
    for _ in range(WARM_PASSES):
        answers = [_x_cache(server.url + wl.path(f"hot{i}")) for i in range(wl.HOT_KEYS)]
        if all(answer == hit for answer in answers):
            return
    raise BenchError(f"{server.name}: hot keys still not {hit} after {WARM_PASSES} passes")


def _x_cache(url: str) -> str | None:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.headers.get("X-Cache")
