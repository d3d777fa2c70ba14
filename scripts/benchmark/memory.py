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

The tier comes from tier.py, the benchmark's one import of the service.
Runs as its own process (scripts/bench starts it from the checkout under
test), so the bench's own heap does not colour the figures:
    python -m scripts.benchmark.memory --ops N --rounds R   -> one JSON line
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable
from typing import Any

from cachetools import LRUCache, TTLCache

from scripts.benchmark.tier import CAPACITY, TTL_S, VALUE, tier_get, tier_set, timed

Loop = Callable[[list[str], int], float]


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
    print(json.dumps(run_memory(args.ops, args.rounds)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
