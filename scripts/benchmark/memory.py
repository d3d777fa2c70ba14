"""In-process: the memory tier against cachetools' LRUCache and TTLCache.

    get-hit   every key present (capacity keys), read in a fixed order
    set       twice capacity distinct keys, so (at steady state) every set evicts

The memory tier is built as the service builds it (service.app's clock
reader for the real clock, a TTL cap) and written as the two-tier cache
writes it: value, content type and TTL, from which the tier builds the entry
and its deadline. cachetools is driven through its fastest public
path (`cache[key]`, `cache[key] = value`); for reads also through
`LRUCache.get(key)`, the call that, like the tier's get, answers None on a
miss (reported, not a target). Each contender runs its own plain
loop, so no call wrapper is timed; rounds interleave the contenders.

The benchmark's one import of the service, and so its one use of the
service's API: MemoryTier(capacity, max_bytes, ttl_cap_s, now), its
get_by_name (what a memory-hit GET calls) and put, and SystemClock. Runs as
its own process from the checkout under test (cwd and first on the path), so
the bench's own heap does not colour the figures:
    python -m scripts.benchmark.memory --ops N --rounds R   -> one result line
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache, TTLCache

from scripts.benchmark import emit
from service.cache.memory import MemoryTier
from service.clock import SystemClock

CAPACITY = 1000
MAX_BYTES = 64 * 1024 * 1024
TTL_S = 600.0
VALUE = b"x" * 64
CONTENT_TYPE = "application/json"
NAMESPACE = "bench"
Loop = Callable[[list[str], int], float]


def timed(body: Callable[[], None]) -> float:
    """Seconds `body()` took."""
    started = time.perf_counter()
    body()
    return time.perf_counter() - started


def _tier() -> MemoryTier:
    return MemoryTier(CAPACITY, MAX_BYTES, TTL_S, SystemClock().monotonic)


def tier_get(keys: list[str], passes: int) -> float:
    tier = _tier()
    for key in keys:
        tier.put(NAMESPACE, key, VALUE, CONTENT_TYPE, int(TTL_S * 1000))
    names = [f"{NAMESPACE}:{key}" for key in keys]
    get = tier.get_by_name

    def body() -> None:
        for _ in range(passes):
            for name in names:
                get(name)

    return timed(body)


def tier_set(keys: list[str], passes: int) -> float:
    put = _tier().put
    ttl_ms = int(TTL_S * 1000)

    def body() -> None:
        for _ in range(passes):
            for key in keys:
                put(NAMESPACE, key, VALUE, CONTENT_TYPE, ttl_ms)

    return timed(body)


def cache_get(make: Callable[[], Any]) -> Loop:
    def run(keys: list[str], passes: int) -> float:
        cache = make()
        for key in keys:
            cache[key] = VALUE

        def body() -> None:
            for _ in range(passes):
                for key in keys:
                    cache[key]

        return timed(body)

    return run


def cache_get_method(make: Callable[[], Any]) -> Loop:
    """`cache.get(key)`: the call that, like the tier's get, answers None on a miss."""
    def run(keys: list[str], passes: int) -> float:
        cache = make()
        for key in keys:
            cache[key] = VALUE
        get = cache.get

        def body() -> None:
            for _ in range(passes):
                for key in keys:
                    get(key)

        return timed(body)

    return run


def cache_set(make: Callable[[], Any]) -> Loop:
    def run(keys: list[str], passes: int) -> float:
        cache = make()

        def body() -> None:
            for _ in range(passes):
                for key in keys:
                    cache[key] = VALUE

        return timed(body)

    return run


def _lru() -> LRUCache[str, bytes]:
    return LRUCache(maxsize=CAPACITY)


def _ttl() -> TTLCache[str, bytes]:
    return TTLCache(maxsize=CAPACITY, ttl=TTL_S)


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
    tier = seconds["memory_tier"]
    for name, short in (("lru_cache", "lru"), ("ttl_cache", "ttl"), ("lru_cache_get", "lru_get")):
        if name not in seconds:
            continue
        rates[f"ratio_vs_{short}"] = statistics.median(
            other / own for own, other in zip(tier, seconds[name], strict=True)
        )
    return rates


def run_memory(ops: int, rounds: int) -> dict[str, Any]:
    resident = [f"default:key{i}" for i in range(CAPACITY)]
    churn = [f"default:key{i}" for i in range(2 * CAPACITY)]
    get_hit = measure({"memory_tier": tier_get, "lru_cache": cache_get(_lru),
                       "ttl_cache": cache_get(_ttl), "lru_cache_get": cache_get_method(_lru)},
                      resident, ops, rounds)
    sets = measure({"memory_tier": tier_set, "lru_cache": cache_set(_lru),
                    "ttl_cache": cache_set(_ttl)}, churn, ops, rounds)
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
