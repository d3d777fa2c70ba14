"""Throughput and the hot path: the service against bare aiohttp handlers
(baselines.py) and against Webdis (batch.py), all on one redis-server,
compared as compare.py compares.

    memory-hit GET   the service (default memory tier) vs a handler returning
                     the same bytes from a constant; vs Webdis GET (side by side)
    Redis-hit GET    the service with CACHE_LRU_MAX_ITEMS=0 vs a handler doing
                     one redis-py GET per request; vs Webdis GET (side by side)
    PUT              the service vs a handler doing one redis-py SET
    _mget of 100     memory hits, and Redis hits, vs Webdis MGET of the same
                     100 keys (side by side; keys/s ratio = req/s ratio)

Webdis reads plain copies of the same values (batch.py says why). The six
hot path rows (both GETs against their bare handler and against Webdis, both
_mget against Webdis) are printed as one table with their goals.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.batch import MGET, WEBDIS_GET, WEBDIS_MGET, seed_batch, start_webdis
from scripts.benchmark.compare import Comparison, Rounds, compare
from scripts.benchmark.load import Generator
from scripts.benchmark.processes import Processes
from scripts.benchmark.report import comparison_lines, n, target

# key: title, goal (the side-by-side ratio); in the hot path table's order.
HOT_PATH = {
    "memory_hit_get": ("memory-hit GET vs bare aiohttp handler returning fixed bytes", 0.95),
    "redis_hit_get": ("Redis-hit GET vs aiohttp + one redis-py GET per request", 1.6),
    "memory_hit_vs_webdis": ("memory-hit GET vs Webdis GET", 0.45),
    "redis_hit_vs_webdis": ("Redis-hit GET vs Webdis GET", 0.30),
    "mget_memory_vs_webdis": ("_mget of 100 memory hits vs Webdis MGET of 100, keys/s", 0.8),
    "mget_redis_vs_webdis": ("_mget of 100 Redis hits vs Webdis MGET of 100, keys/s", 0.3),
}
PUT_TARGET = 1.5


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
    webdis = (start_webdis(procs, redis, value),)
    for server in (*bare, *bare_get, *bare_set):
        server.wait_answering()
    wl.seed_hot_keys(bare_set[0].base_url, value)
    seed_batch(memory, "memory")
    seed_batch(redis_only, "redis")
    hot, side = wl.hot_get(), {"strict": True, "alone": False}
    comparisons = (
        Comparison("memory_hit_get", "GET memory hit", hot, memory, bare,
                   "bare aiohttp handler returning the same bytes", HOT_PATH["memory_hit_get"][1]),
        Comparison("redis_hit_get", "GET Redis hit", hot, redis_only, bare_get,
                   "bare aiohttp handler, one redis-py GET per request", HOT_PATH["redis_hit_get"][1]),
        Comparison("put", "PUT", wl.put(value), memory, bare_set,
                   "bare aiohttp handler, one redis-py SET per request", PUT_TARGET),
        Comparison("memory_hit_vs_webdis", "GET memory hit", hot, memory, webdis, "Webdis GET",
                   HOT_PATH["memory_hit_vs_webdis"][1], WEBDIS_GET, **side),
        Comparison("redis_hit_vs_webdis", "GET Redis hit", hot, redis_only, webdis, "Webdis GET",
                   HOT_PATH["redis_hit_vs_webdis"][1], WEBDIS_GET, **side),
        Comparison("mget_memory_vs_webdis", "_mget memory", MGET, memory, webdis, "Webdis MGET",
                   HOT_PATH["mget_memory_vs_webdis"][1], WEBDIS_MGET, **side),
        Comparison("mget_redis_vs_webdis", "_mget Redis", MGET, redis_only, webdis, "Webdis MGET",
                   HOT_PATH["mget_redis_vs_webdis"][1], WEBDIS_MGET, **side),
    )
    return {c.key: compare(generator, split, c, plan) for c in comparisons}


def throughput_lines(throughput: dict[str, Any]) -> list[str]:
    lines = comparison_lines("throughput", (f for f in throughput.values() if "service" in f))
    lines += ["", (f"hot path, side by side on one CPU, one redis-server; median ratio "
                   f"(rounds min-max), CPU per request ratio{'goal':>10}")]
    for key, (title, goal) in HOT_PATH.items():
        f = throughput[key]
        lines.append(f"  {title:<62}{n(f['ratio']):>6}x ({n(min(f['ratio_per_round']))}-"
                     f"{n(max(f['ratio_per_round']))}) CPU {n(f['cpu_ratio'])}x  >= {goal:.2f}x  "
                     f"{'MET' if f['ratio'] >= goal else 'NOT MET'}")
    return lines


def throughput_targets(throughput: dict[str, Any]) -> list[dict[str, Any]]:
    rows = {**{key: title for key, (title, _) in HOT_PATH.items()},
            "put": "PUT vs bare aiohttp + one redis-py SET per request"}
    return [target(title, throughput[key]["ratio"], throughput[key]["target_ratio"], "x",
                   at_least=True) for key, title in rows.items()]
