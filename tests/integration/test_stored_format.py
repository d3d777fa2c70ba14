"""The stored format through the whole service and a real Redis: every PUT
writes v2 stamped by the injected clock, a v1 value (an instance not yet
upgraded wrote it) is still served, and bytes that are neither are a miss."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.cache import codec
from statemachine.clock import FakeClock
from tests.support.waiting import ready_client

StartClient = Callable[..., Awaitable[TestClient]]
NAME = "roleready:default:k"


async def test_a_put_writes_v2_stamped_by_the_injected_clock(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    clock = FakeClock(wall=1_800_000_000.5)
    client = await ready_client(app_client, redis_server.url, clock)
    raw = aioredis.Redis(port=redis_server.port)
    stamps = []
    for _ in range(2):  # the same body twice
        put = await client.put("/cache/default/k?ttl_ms=60000", data=b"same",
                               headers={"Content-Type": "text/plain"})
        assert put.status == 204
        stored = await raw.get(NAME)
        assert stored[:1] == codec.FORMAT_V2
        body, content_type, stamp = codec.decode(stored)
        assert (body, content_type) == (b"same", "text/plain")
        assert (stamp.stored_at_ms, stamp.expires_at_ms) == (1_800_000_000_500, 1_800_000_060_500)
        # The memory entry carries the very stamp Redis got (one ETag per PUT).
        entry = client.app[appkeys.CACHE].memory.get("default", "k")
        assert entry is not None and entry.stamp == stamp
        stamps.append(stamp)
    assert stamps[0].version != stamps[1].version
    await raw.aclose()


async def test_a_fill_from_redis_keeps_the_values_stamp(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    writer = await ready_client(app_client, redis_server.url)
    reader = await ready_client(app_client, redis_server.url)
    await writer.put("/cache/default/k", data=b"v")
    got = await reader.get("/cache/default/k")
    assert got.headers["X-Cache"] == "hit-redis"
    written = writer.app[appkeys.CACHE].memory.get("default", "k")
    filled = reader.app[appkeys.CACHE].memory.get("default", "k")
    assert written is not None and filled is not None and filled.stamp == written.stamp


async def test_a_v1_value_is_served_through_the_service(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    raw = aioredis.Redis(port=redis_server.port)
    await raw.set(NAME, codec.encode_v1(b'{"old": true}', "application/json"), px=60_000)
    client = await ready_client(app_client, redis_server.url)
    got = await client.get("/cache/default/k")
    assert (got.status, got.headers["X-Cache"]) == (200, "hit-redis")
    assert got.headers["Content-Type"] == "application/json"
    assert await got.read() == b'{"old": true}'
    entry = client.app[appkeys.CACHE].memory.get("default", "k")
    assert entry is not None and entry.stamp is not None
    assert (entry.stamp.stored_at_ms, entry.stamp.expires_at_ms) == (None, None)
    assert len(bytes.fromhex(entry.stamp.version)) == codec.VERSION_BYTES
    again = await client.get("/cache/default/k")
    assert again.headers["X-Cache"] == "hit-memory" and await again.read() == b'{"old": true}'
    # Overwritten through the service, it becomes v2.
    await client.put("/cache/default/k", data=b"new")
    assert (await raw.get(NAME))[:1] == codec.FORMAT_V2
    await raw.aclose()


@pytest.mark.parametrize("stored", [
    b"\x02\x00\x00",  # a v2 header cut short
    codec.encode(b"body", "text/plain", codec.new_stamp(1_800_000_000, 1000))[:30],
    b"\x02" + b"\x00" * 24 + b"\xff" + b"short",  # a content-type length beyond the value
    b"\x07something newer or foreign",
    b"",
], ids=["v2-header-cut", "v2-type-cut", "v2-length-beyond", "unknown-version", "empty"])
async def test_an_undecodable_value_is_a_miss_never_a_500(
    app_client: StartClient, redis_server: RedisServer, stored: bytes
) -> None:
    raw = aioredis.Redis(port=redis_server.port)
    await raw.set(NAME, stored, px=60_000)
    client = await ready_client(app_client, redis_server.url)
    got = await client.get("/cache/default/k")
    assert (got.status, got.headers["X-Cache"]) == (404, "miss")
    assert client.app[appkeys.CACHE].stats.redis_misses == 1
    assert "X-Cache-Degraded" not in got.headers  # Redis answered: nothing degraded
    await raw.aclose()
