"""What tags cost (docs/consistency.md, "Tags"), in-process and at one Redis:

    memory hit   TwoTierCache.get_memory of an untagged entry, and of one
                 with 4 tags, rounds interleaved (the untagged one is the
                 path every untagged GET takes)
    invalidate   with --redis-url: one tag invalidation (the INVALIDATE
                 script, as the service sends it) after 100,000 entries
                 carrying the tag were written: its round trip at the
                 caller, p50 and p99 (the entries are never touched)

Not part of scripts/bench's default run; figures are only meaningful on a
quiet machine:
    python -m scripts.benchmark.tags [--rounds R] [--redis-url URL]  -> one JSON line
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import redis.asyncio as aioredis

from service.cache import codec
from service.cache.memory import MemoryTier
from service.cache.stats import CacheStats
from service.cache.tags import INVALIDATE
from service.cache.two_tier import TwoTierCache
from service.clock import SystemClock

PASSES = 100_000
ENTRIES = 100_000
TAGS = ["candidate:1", "candidate:2", "job:3", "job:4"]


def _cache() -> TwoTierCache:
    clock = SystemClock()
    memory = MemoryTier(1000, 64 * 1024 * 1024, 600.0, clock.monotonic)
    cache = TwoTierCache(memory, None, {"bench": 600_000}, CacheStats(), wall=clock.wall)
    cache.tags.invalidated("bench", TAGS, [1, 2, 3, 4])
    plain = codec.new_stamp(clock.wall(), 600_000)
    tagged = codec.new_stamp(clock.wall(), 600_000, cache.tags.seen("bench", TAGS))
    memory.put("bench", "plain", b"x" * 64, "application/json", 600_000, stamp=plain)
    memory.put("bench", "tagged", b"x" * 64, "application/json", 600_000, stamp=tagged)
    return cache


def memory_hits(rounds: int) -> dict[str, float]:
    """µs per get_memory, the median of `rounds` interleaved rounds."""
    cache = _cache()
    get = cache.get_memory
    results: dict[str, list[float]] = {"plain": [], "tagged_4": []}
    for _ in range(rounds):
        for label, key in (("plain", "plain"), ("tagged_4", "tagged")):
            assert get("bench", key) is not None
            started = time.perf_counter()
            for _ in range(PASSES):
                get("bench", key)
            results[label].append((time.perf_counter() - started) / PASSES * 1e6)
    return {f"memory_hit_{label}_us": statistics.median(v) for label, v in results.items()}


async def invalidation(url: str, rounds: int) -> dict[str, float]:
    client = aioredis.Redis.from_url(url)
    try:
        value = codec.encode(b"x" * 64, "application/json",
                             codec.new_stamp(time.time(), 600_000, (("candidate:1", 0),)))
        for start in range(0, ENTRIES, 1000):
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
        took.sort()
        return {"invalidate_p50_ms": took[len(took) // 2],
                "invalidate_p99_ms": took[int(len(took) * 0.99)]}
    finally:
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--redis-url", default="", help="a Redis to write 100,000 entries to")
    args = parser.parse_args()
    figures = memory_hits(args.rounds)
    if args.redis_url:
        figures |= asyncio.run(invalidation(args.redis_url, args.rounds))
    print(json.dumps({name: round(value, 4) for name, value in figures.items()}))


if __name__ == "__main__":
    main()
