"""Tag invalidation (service/cache/tags.py) with two in-process instances on
one real Redis: an invalidation through one instance stops every instance
serving an entry written before it, within the coherence guarantee (2 s, as
tests/integration/test_coherence.py waits), while entries written after it
hit."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from service import appkeys
from service.cache import tags as tag_ops
from service.cache.two_tier import Source
from tests.support.redis_server import RedisServer
from tests.support.waiting import eventually_async, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
CONVERGED_S = 2.0


async def _pair(app_client: StartClient, server: RedisServer) -> tuple[TestClient, TestClient]:
    return (await ready_client(app_client, server.url), await ready_client(app_client, server.url))


async def test_the_cache_drops_what_a_tag_invalidation_covers_on_every_instance(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server)
    cache_a, cache_b = a.app[appkeys.CACHE], b.app[appkeys.CACHE]
    await cache_a.write("default", "one", b"1", "text/plain", 60_000, ["candidate:42"])
    await cache_b.write("default", "two", b"2", "text/plain", 60_000, ["candidate:42", "job:7"])
    await cache_a.write("default", "three", b"3", "text/plain", 60_000, ["job:7"])
    await cache_a.write("default", "plain", b"p", "text/plain", 60_000)
    for cache in (cache_a, cache_b):  # into both memory tiers
        for key in ("one", "two", "three", "plain"):
            assert await cache.get("default", key) is not None
    assert cache_b.get_memory("default", "one") is not None
    done = await tag_ops.invalidate(cache_a, "default", ["candidate:42"])
    assert done.in_redis
    for key in ("one", "two"):  # through A: at once
        assert await cache_a.get("default", key) is None

    async def b_dropped() -> bool:
        return all([await cache_b.get("default", key) is None for key in ("one", "two")])

    await _eventually_async(b_dropped)
    for cache in (cache_a, cache_b):
        for key in ("three", "plain"):
            found = await cache.get("default", key)
            assert found is not None and found.source == Source.MEMORY
    assert cache_b.tags.found_invalidated + cache_a.tags.found_invalidated >= 2
    # Written after the invalidation: served, through either instance.
    await cache_b.write("default", "one", b"1b", "text/plain", 60_000, ["candidate:42"])
    for cache in (cache_a, cache_b):
        found = await cache.get("default", "one")
        assert found is not None and found.value == b"1b"
    # The record: one key, with the namespace's TTL + stale window as expiry.
    raw = aioredis.Redis(port=redis_server.port)
    record = "roleready:~tag:default:candidate:42"
    assert int(await raw.get(record)) == done.at_us
    assert 299_000 < await raw.pttl(record) <= 300_000
    await raw.aclose()


async def _eventually_async(check: Callable[[], Awaitable[bool]]) -> None:
    await eventually_async(check, timeout=CONVERGED_S, what="B drops the invalidated entries")


async def test_a_record_is_never_compared_with_an_instance_clock(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    """B's wall clock an hour behind or ahead changes nothing: what an entry
    saw is compared with the record it saw, both Redis's."""
    a, b = await _pair(app_client, redis_server)
    cache_a, cache_b = a.app[appkeys.CACHE], b.app[appkeys.CACHE]
    for skew_s in (-3600.0, 3600.0):
        cache_b._wall = lambda skew_s=skew_s: time.time() + skew_s  # type: ignore[method-assign]
        await cache_b.write("default", "k", b"old", "text/plain", 60_000, ["t"])
        assert await cache_a.get("default", "k") is not None
        assert (await cache_b.get("default", "k")).source == Source.MEMORY  # type: ignore[union-attr]
        await tag_ops.invalidate(cache_a, "default", ["t"])
        assert await cache_a.get("default", "k") is None

        async def b_dropped() -> bool:
            return await cache_b.get("default", "k") is None

        await _eventually_async(b_dropped)
