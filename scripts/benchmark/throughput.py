"""Throughput: the service against bare aiohttp handlers (baselines.py), on
one redis-server, compared as compare.py compares.

    memory-hit GET   the service (default memory tier) vs a handler returning
                     the same bytes from a constant
    Redis-hit GET    the service with CACHE_LRU_MAX_ITEMS=0 vs a handler doing
                     one redis-py GET per request
    PUT              the service vs a handler doing one redis-py SET
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.compare import Comparison, Rounds, compare
from scripts.benchmark.load import Generator
from scripts.benchmark.processes import Processes
from scripts.benchmark.report import comparison_lines, target


def run_throughput(procs: Processes, generator: Generator, split: Generator, plan: Rounds,
                   value: bytes, value_file: Path) -> dict[str, Any]:
    redis = procs.redis("redis")
    # Every baseline is started at once (each takes most of a second to
    # import), then waited for; `instances` of each kind (see Comparison.pair).
    bare, bare_get, bare_set = (tuple(procs.baseline(
        f"baseline-{mode}-{i}", mode, *args, wait=False) for i in range(plan.instances))
        for mode, args in (("bytes", ("--value-file", str(value_file))),
                           ("redis-get", ("--redis-url", redis.url)),
                           ("redis-set", ("--redis-url", redis.url))))
    memory, redis_only = wl.hot_services(procs, "service", redis.url, plan.instances, value)
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
    return {c.key: compare(generator, split, c, plan) for c in comparisons}


def throughput_lines(throughput: dict[str, Any]) -> list[str]:
    return comparison_lines("throughput", throughput.values())


TITLES = {"memory_hit_get": "GET memory hit vs bare aiohttp bytes",
          "redis_hit_get": "GET Redis hit vs bare aiohttp + redis-py GET",
          "put": "PUT vs bare aiohttp + redis-py SET"}


def throughput_targets(throughput: dict[str, Any]) -> list[dict[str, Any]]:
    return [target(title, throughput[key]["ratio"], throughput[key]["target_ratio"], "x",
                   at_least=True) for key, title in TITLES.items()]
