"""In-process: the memory tier against cachetools' LRUCache and TTLCache.

    get-hit   every key present (capacity keys), read in a fixed order
    set       twice capacity distinct keys, so (at steady state) every set evicts

The tier is built as the service builds it (the real clock, a TTL cap) and
written as the two-tier cache writes it (value, content type, TTL).
cachetools is driven through its fastest public path (`cache[key]`,
`cache[key] = value`), and for reads also `LRUCache.get(key)`, which like the
tier's get answers None on a miss (reported, not a target). Each contender
runs its own plain loop, so no call wrapper is timed; rounds interleave them.

The benchmark's one import of the service (MemoryTier, its get_by_name, what
a memory-hit GET calls, and put; SystemClock). Runs as its own process from
the checkout under test (cwd and first on the path), so the bench's own heap
does not colour the figures:
    python -m scripts.benchmark.memory --ops N --rounds R   -> one result line
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from cachetools import LRUCache, TTLCache

from scripts.benchmark import emit
from service.cache.memory import MemoryTier
from service.clock import SystemClock

CAPACITY, MAX_BYTES, TTL_S = 1000, 64 * 1024 * 1024, 600.0
VALUE, CONTENT_TYPE, NAMESPACE = b"x" * 64, "application/json", "bench"
Loop = Callable[[list[str], int], float]


def tier_get(keys: list[str], passes: int) -> float:
    tier = MemoryTier(CAPACITY, MAX_BYTES, TTL_S, SystemClock().monotonic)
    for key in keys:
        tier.put(NAMESPACE, key, VALUE, CONTENT_TYPE, int(TTL_S * 1000))
    names, get = [f"{NAMESPACE}:{key}" for key in keys], tier.get_by_name
    started = time.perf_counter()
    for _ in range(passes):
        for name in names:
            get(name)
    return time.perf_counter() - started


def tier_set(keys: list[str], passes: int) -> float:
    put = MemoryTier(CAPACITY, MAX_BYTES, TTL_S, SystemClock().monotonic).put
    ttl_ms = int(TTL_S * 1000)
    started = time.perf_counter()
    for _ in range(passes):
        for key in keys:
            put(NAMESPACE, key, VALUE, CONTENT_TYPE, ttl_ms)
    return time.perf_counter() - started


def cache_get(make: Callable[[], Any], keys: list[str], passes: int) -> float:
    cache = make()
    for key in keys:
        cache[key] = VALUE
    started = time.perf_counter()
    for _ in range(passes):
        for key in keys:
            cache[key]
    return time.perf_counter() - started


def cache_get_method(make: Callable[[], Any], keys: list[str], passes: int) -> float:
    cache = make()
    for key in keys:
        cache[key] = VALUE
    get = cache.get
    started = time.perf_counter()
    for _ in range(passes):
        for key in keys:
            get(key)
    return time.perf_counter() - started


def cache_set(make: Callable[[], Any], keys: list[str], passes: int) -> float:
    cache = make()
    started = time.perf_counter()
    for _ in range(passes):
        for key in keys:
            cache[key] = VALUE
    return time.perf_counter() - started


def measure(contenders: dict[str, Loop], keys: list[str], ops: int,
            rounds: int) -> dict[str, float]:
    """Median rates, and the memory tier's ratios as medians of per-round ratios
    (the contenders of a round run milliseconds apart, so CPU drift cancels)."""
    passes = max(1, ops // len(keys))
    seconds: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, loop in contenders.items():
            seconds[name].append(loop(keys, passes))
    rates = {name: passes * len(keys) / statistics.median(s) for name, s in seconds.items()}
    for name, short in (("lru_cache", "lru"), ("ttl_cache", "ttl"), ("lru_cache_get", "lru_get")):
        if name in seconds:
            rates[f"ratio_vs_{short}"] = statistics.median(
                other / own for own, other in zip(seconds["memory_tier"], seconds[name], strict=True))
    return rates


def run_memory(ops: int, rounds: int) -> dict[str, Any]:
    resident = [f"default:key{i}" for i in range(CAPACITY)]
    churn = [f"default:key{i}" for i in range(2 * CAPACITY)]
    lru: Callable[[], Any] = partial(LRUCache, maxsize=CAPACITY)
    ttl: Callable[[], Any] = partial(TTLCache, maxsize=CAPACITY, ttl=TTL_S)
    get_hit = measure({"memory_tier": tier_get, "lru_cache": partial(cache_get, lru),
                       "ttl_cache": partial(cache_get, ttl),
                       "lru_cache_get": partial(cache_get_method, lru)}, resident, ops, rounds)
    sets = measure({"memory_tier": tier_set, "lru_cache": partial(cache_set, lru),
                    "ttl_cache": partial(cache_set, ttl)}, churn, ops, rounds)
    return {"capacity": CAPACITY, "ops_per_measurement": ops, "rounds": rounds,
            "target_ratio": 1.0, "get_hit": get_hit, "set": sets}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=300_000, help="operations per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    return emit(run_memory(args.ops, args.rounds))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
