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

from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import (
    Comparison,
    Rounds,
    compare,
    one_after_the_other,
    per_round,
    summarize,
)
from scripts.benchmark.load import Generator
from scripts.benchmark.processes import Placement, Processes
from scripts.benchmark.report import SIDE_COLUMNS, Figures, comparison_table, row, side, span, table

WORKER_COUNTS = (1, 2)
WARM_PASSES = 50
CASES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("memory", "hit-memory", {}), ("redis", "hit-redis", {"CACHE_LRU_MAX_ITEMS": "0"}))


def run_workers(procs: Processes, generators: tuple[Generator, Generator], plan: Rounds,
                value: bytes) -> dict[str, Any]:
    redis = procs.redis("redis-workers")
    return {
        "event_loop": event_loops(procs, generators, plan, redis.url, value),
        "workers": worker_counts(procs, generators[0], plan, redis.url, value),
    }


def event_loops(procs: Processes, generators: tuple[Generator, Generator], plan: Rounds,
                redis_url: str, value: bytes) -> dict[str, Any]:
    """uvloop against asyncio's loop, the rest of the service the same."""
    started = {loop: wl.hot_services(procs, f"loop-{loop}", redis_url, plan.instances, value,
                                     EVENT_LOOP=loop) for loop in ("uvloop", "asyncio")}
    comparisons = (
        Comparison("memory_hit_get", "GET memory hit", wl.hot_get(), started["uvloop"][0],
                   started["asyncio"][0], "the same service on asyncio's loop", 1.0),
        Comparison("redis_hit_get", "GET Redis hit", wl.hot_get(), started["uvloop"][1],
                   started["asyncio"][1], "the same service on asyncio's loop", 1.0),
    )
    return {c.key: compare(*generators, c, plan) for c in comparisons}


def worker_counts(procs: Processes, generator: Generator, plan: Rounds, redis_url: str,
                  value: bytes) -> dict[str, Any]:
    """WORKERS=1 and 2, free to use every CPU, each alone in alternating order."""
    return procs.in_group("workers", lambda unpinned: {
        f"{case}_hit_get": worker_count(unpinned, generator, plan, redis_url, value, case, hit, extra)
        for case, hit, extra in CASES}, Placement(servers=None, others=procs.placement.others))


def worker_count(procs: Processes, generator: Generator, plan: Rounds, redis_url: str,
                 value: bytes, case: str, hit: str, extra: dict[str, str]) -> dict[str, Any]:
    key = f"{case}_hit_get"
    one, two = (procs.service(f"{key}-workers-{count}", wl.service_env(
        f"workers-{key}", redis_url, WORKERS=str(count), **extra)) for count in WORKER_COUNTS)
    for server in (one, two):
        server.wait_ready(healthy=True)
    wl.seed_hot_keys(one.base_url, value)
    for server in (one, two):
        wl.warm(server, hit, WARM_PASSES)
    measured = one_after_the_other(generator, Comparison(
        key, key, wl.hot_get(), (one,), (two,), "WORKERS=2", 1.0), plan.rounds, plan.duration_s)
    return {"workers_1": summarize(measured["service"]), "workers_2": summarize(measured["baseline"]),
            **per_round("scaling", (m.load.rps for m in measured["baseline"]),
                        (m.load.rps for m in measured["service"]))}


def worker_tables(figures: dict[str, Any]) -> list[Figures]:
    return [comparison_table("event loop", figures["event_loop"].values()), table(
        "workers: WORKERS=1 alone, then WORKERS=2 (w2) alone; 2 / 1 and its rounds min-max",
        (*SIDE_COLUMNS, *(f"w2 {c}" for c in SIDE_COLUMNS), "2 / 1", "rounds"),
        (row(case, *side(f["workers_1"]), *side(f["workers_2"]), f"{f['scaling']:.2f}x",
             span(f["scaling_per_round"])) for case, f in figures["workers"].items()),
        ("alone, one after the other; the service free to use every CPU, wrk and "
         "redis-server on the second (see workers.py)",))]
