"""In process, from the checkout under test: the memory tier against
cachetools' LRUCache and TTLCache (the memory section), and what tags cost.

The benchmark's one import of the service, run as its own process (cwd and
first on the path) so the bench's own heap does not colour the figures:
    python -m scripts.benchmark.memory --ops N --rounds R   -> one result line
    python -m scripts.benchmark.memory tags [--rounds R] [--redis-url URL]  -> one JSON line
Method: docs/performance.md, "The memory tier against cachetools" and
"What tags cost".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from cachetools import LRUCache, TTLCache

from scripts.benchmark import emit
from scripts.benchmark.report import percentile
from service.cache.memory import MemoryTier
from service.clock import SystemClock

CAPACITY, MAX_BYTES, TTL_S = 1000, 64 * 1024 * 1024, 600.0
TAG_PASSES, TAGGED_ENTRIES = 100_000, 100_000
TAGS = ["candidate:1", "candidate:2", "job:3", "job:4"]
VALUE, CONTENT_TYPE, NAMESPACE = b"x" * 64, "application/json", "bench"
Loop = Callable[[list[str], int], float]


def calls(call: Callable[[str], Any], args: list[str], passes: int) -> float:
    """Seconds `passes` passes of `call(arg)` over `args` take."""
    started = time.perf_counter()
    for _ in range(passes):
        for arg in args:
            call(arg)
    return time.perf_counter() - started


def tier_get(keys: list[str], passes: int) -> float:
    tier = MemoryTier(CAPACITY, MAX_BYTES, TTL_S, SystemClock().monotonic)
    for key in keys:
        tier.put(NAMESPACE, key, VALUE, CONTENT_TYPE, int(TTL_S * 1000))
    return calls(tier.get_by_name, [f"{NAMESPACE}:{key}" for key in keys], passes)


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
    return calls(cache.get, keys, passes)


def cache_set(make: Callable[[], Any], keys: list[str], passes: int) -> float:
    cache = make()
    started = time.perf_counter()
    for _ in range(passes):
        for key in keys:
            cache[key] = VALUE
    return time.perf_counter() - started


def measure(contenders: dict[str, Loop], keys: list[str], ops: int,
            rounds: int) -> dict[str, float]:
    """Median rates, and the memory tier's ratios as medians of per-round ratios."""
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


def tagged_cache() -> Any:
    """A two-tier cache (no Redis) holding `plain`, untagged, and `tagged`, with TAGS."""
    # Here, not at the top: the memory section runs this module from any
    # checkout, one older than tags too.
    from service.cache import codec
    from service.cache.stats import CacheStats
    from service.cache.two_tier import TwoTierCache

    clock = SystemClock()
    memory = MemoryTier(CAPACITY, MAX_BYTES, TTL_S, clock.monotonic)
    cache = TwoTierCache(memory, None, {"bench": 600_000}, CacheStats(), wall=clock.wall)
    cache.tags.invalidated("bench", TAGS, [1, 2, 3, 4])
    plain = codec.new_stamp(clock.wall(), 600_000)
    tagged = codec.new_stamp(clock.wall(), 600_000, cache.tags.seen("bench", TAGS))
    memory.put("bench", "plain", b"x" * 64, "application/json", 600_000, stamp=plain)
    memory.put("bench", "tagged", b"x" * 64, "application/json", 600_000, stamp=tagged)
    return cache


def entry_get(get: Callable[[str, str], Any], key: str, keys: list[str], passes: int) -> float:
    assert get("bench", key) is not None
    started = time.perf_counter()
    for _ in range(passes):
        get("bench", key)
    return time.perf_counter() - started


async def tag_invalidation(url: str, rounds: int) -> dict[str, float]:
    import redis.asyncio as aioredis

    from service.cache import codec
    from service.cache.tags import INVALIDATE

    client = aioredis.Redis.from_url(url)
    try:
        value = codec.encode(b"x" * 64, "application/json",
                             codec.new_stamp(time.time(), 600_000, (("candidate:1", 0),)))
        for start in range(0, TAGGED_ENTRIES, 1000):
            async with client.pipeline(transaction=False) as pipe:
                for i in range(start, start + 1000):
                    pipe.set(f"roleready:bench:k{i}", value, px=600_000)
                await pipe.execute()
        record = "roleready:~tag:bench:candidate:1"
        took = []
        for _ in range(rounds * 100):
            started = time.perf_counter()
            await client.eval(INVALIDATE, 1, record, 600_000)
            took.append((time.perf_counter() - started) * 1000)
        return {"invalidate_p50_ms": percentile(took, 50), "invalidate_p99_ms": percentile(took, 99)}
    finally:
        await client.aclose()


def run_tags(rounds: int, redis_url: str) -> dict[str, float]:
    """µs per get_memory (medians of `rounds` interleaved rounds) and, with
    `redis_url`, the invalidation's round trip."""
    get = tagged_cache().get_memory
    rates = measure({"plain": partial(entry_get, get, "plain"),
                     "tagged_4": partial(entry_get, get, "tagged")}, ["bench"], TAG_PASSES, rounds)
    figures = {f"memory_hit_{label}_us": 1e6 / rates[label] for label in ("plain", "tagged_4")}
    if redis_url:
        figures |= asyncio.run(tag_invalidation(redis_url, rounds))
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.splitlines()[:2]))
    parser.add_argument("what", nargs="?", choices=("tier", "tags"), default="tier")
    parser.add_argument("--ops", type=int, default=300_000, help="operations per measurement")
    parser.add_argument("--rounds", type=int, help="default 3 (tags: 5)")
    parser.add_argument("--redis-url", default="", help="tags: a Redis to write 100,000 entries to")
    args = parser.parse_args(argv)
    if args.what == "tier":
        return emit(run_memory(args.ops, args.rounds or 3))
    figures = run_tags(args.rounds or 5, args.redis_url)
    print(json.dumps({name: round(value, 4) for name, value in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
