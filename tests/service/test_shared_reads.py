"""Request coalescing (service/cache/reads.py) through the two-tier cache,
with a link whose every read waits until the test answers it, so the order
of reads, writes, invalidations and cancellations is the test's (the same
behaviour against a real Redis: tests/integration/test_coalescing.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from service.cache import codec
from service.cache.memory import MemoryTier
from service.cache.redis_tier import RedisTier
from service.cache.stats import CacheStats
from service.cache.two_tier import Lookup, Source, TwoTierCache
from statemachine.clock import FakeClock


class HeldLink:
    """Every `execute` waits for the test: `answer(i, ...)` releases read i."""

    def __init__(self) -> None:
        self.reads: list[asyncio.Future[list[Any] | None]] = []

    async def execute(self, commands: Sequence[Any], *, retries: int = 0) -> list[Any] | None:
        reply: asyncio.Future[list[Any] | None] = asyncio.get_running_loop().create_future()
        self.reads.append(reply)
        return await reply

    def answer(self, index: int, body: bytes | None) -> None:
        raw = None if body is None else codec.encode(body, "text/plain", STAMP)
        self.reads[index].set_result([raw, 60_000 if raw is not None else -2])


STAMP = codec.new_stamp(1_800_000_000, 60_000)


def _cache() -> tuple[TwoTierCache, HeldLink]:
    clock, link, stats = FakeClock(), HeldLink(), CacheStats()
    memory = MemoryTier(100, 1 << 20, 600.0, clock.monotonic)
    redis = RedisTier(link, "rr", 0, stats, clock.wall)  # type: ignore[arg-type]  # reads only
    return TwoTierCache(memory, redis, {"ns": 60_000}, stats, wall=clock.wall), link


def _misses(cache: TwoTierCache, n: int) -> list[asyncio.Task[Lookup | None]]:
    return [asyncio.create_task(cache.get_redis("ns", "k")) for _ in range(n)]


async def _settle() -> None:
    for _ in range(5):  # a few loop turns: every task reaches its await
        await asyncio.sleep(0)


async def test_concurrent_misses_share_one_read() -> None:
    cache, link = _cache()
    tasks = _misses(cache, 50)
    await _settle()
    assert len(link.reads) == 1
    link.answer(0, b"v")
    answers = await asyncio.gather(*tasks)
    assert all(a == Lookup(b"v", "text/plain", Source.REDIS, STAMP) for a in answers)
    stats = cache.stats
    assert (stats.redis_hits, stats.coalesced_reads, stats.coalesced_hits) == (1, 49, 49)
    assert (stats.hits, stats.misses) == (50, 0)
    entry = cache.memory.get("ns", "k")
    assert entry is not None and entry.value == b"v" and entry.stamp == STAMP


async def test_a_miss_after_a_change_never_gets_the_read_begun_before_it() -> None:
    cache, link = _cache()
    before = _misses(cache, 3)
    await _settle()
    cache.invalidated([b"rr:ns:k"])  # another instance wrote k
    after = _misses(cache, 3)
    await _settle()
    assert len(link.reads) == 2  # the change made the first read unjoinable
    link.answer(0, b"old")
    link.answer(1, b"new")
    # Those that asked before the change may get the older value (concurrent
    # with their GET); none after it does, and memory keeps only the newer.
    assert {a.value for a in await asyncio.gather(*before) if a} == {b"old"}
    assert {a.value for a in await asyncio.gather(*after) if a} == {b"new"}
    entry = cache.memory.get("ns", "k")
    assert entry is not None and entry.value == b"new"


@pytest.mark.parametrize("change", ["write", "delete", "flush"])
async def test_a_read_overtaken_by_a_change_is_neither_kept_nor_joined(change: str) -> None:
    cache, link = _cache()
    tasks = _misses(cache, 2)
    await _settle()
    if change == "write":  # its own Redis command waits too: read 1
        write = asyncio.create_task(cache.write("ns", "k", b"mine", "text/plain", 60_000))
    elif change == "delete":
        write = asyncio.create_task(cache.delete("ns", "k"))
    else:
        cache.invalidated(None)
        write = asyncio.create_task(asyncio.sleep(0))
    await _settle()
    later = asyncio.create_task(cache.get_redis("ns", "k"))
    await _settle()
    assert len(link.reads) == (2 if change == "flush" else 3)  # a read of its own
    link.answer(0, b"old")
    assert [a.value for a in await asyncio.gather(*tasks) if a] == [b"old", b"old"]
    if change != "flush":
        link.reads[1].set_result([1])
    await write
    held = cache.memory.get("ns", "k")
    assert (held.value if held else None) == (b"mine" if change == "write" else None)
    link.answer(len(link.reads) - 1, b"new")
    found = await later
    assert found is not None and found.value == b"new"


async def test_a_cancelled_leader_leaves_its_joined_callers_a_read_of_their_own() -> None:
    cache, link = _cache()
    leader, *joined = _misses(cache, 5)
    await _settle()
    leader.cancel()
    await _settle()
    assert leader.cancelled() and len(link.reads) == 2  # the first joined one leads now
    link.answer(1, b"v")
    assert all(a is not None and a.value == b"v" for a in await asyncio.gather(*joined))
    assert cache.stats.coalesced_reads == 3


async def test_a_cancelled_joined_caller_does_not_cancel_the_read() -> None:
    cache, link = _cache()
    first, second, third = _misses(cache, 3)
    await _settle()
    second.cancel()
    await _settle()
    link.answer(0, b"v")
    assert (await first) is not None and (await third) is not None
    assert second.cancelled() and len(link.reads) == 1


async def test_a_failed_read_is_a_miss_for_every_caller_that_joined_it() -> None:
    cache, link = _cache()
    tasks = _misses(cache, 10)
    await _settle()
    link.reads[0].set_result(None)  # Redis unavailable: the link gave up
    assert await asyncio.gather(*tasks) == [None] * 10
    assert (cache.stats.misses, cache.stats.coalesced_hits, len(cache.memory)) == (10, 0, 0)
