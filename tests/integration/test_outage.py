"""Redis killed or hung: the API keeps answering from memory, then recovers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient

from service import appkeys
from tests.support.redis_server import RedisServer
from tests.support.waiting import link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
NOT_READY = ("error", "reconnecting", "failed")


async def _exercise(client: TestClient, key: str) -> None:
    """Every operation answers normally (never 5xx) while Redis is out."""
    put = await client.put(f"/cache/default/{key}", data=b"during-outage")
    assert put.status == 204
    got = await client.get(f"/cache/default/{key}")
    assert (got.status, got.headers["X-Cache"]) == (200, "hit-memory")
    assert await got.read() == b"during-outage"
    assert (await client.delete(f"/cache/default/{key}")).status == 204
    miss = await client.get(f"/cache/default/{key}")
    assert (miss.status, miss.headers["X-Cache"]) == (404, "miss")


async def _ready_pair(app_client: StartClient, server: RedisServer) -> tuple[TestClient, TestClient]:
    service = await ready_client(app_client, server.url)
    observer = await ready_client(app_client, server.url, CACHE_LRU_MAX_ITEMS="0")
    return service, observer


async def _writes_reach_redis_again(service: TestClient, observer: TestClient) -> None:
    await link_state(service.app, "ready")
    await link_state(observer.app, "ready")
    assert (await service.put("/cache/default/after", data=b"back")).status == 204
    seen = await observer.get("/cache/default/after")
    assert (seen.status, seen.headers["X-Cache"]) == (200, "hit-redis")


async def test_killed_redis_is_served_from_memory_then_used_again(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    service, observer = await _ready_pair(app_client, redis_server)
    await service.put("/cache/default/before", data=b"cached")
    redis_server.kill()
    # The first request after the kill may be the one that detects it; it
    # still answers from memory.
    got = await service.get("/cache/default/before")
    assert (got.status, got.headers["X-Cache"]) == (200, "hit-memory")
    await link_state(service.app, *NOT_READY)
    await _exercise(service, "k1")
    # A miss during the outage is a plain 404, not an error.
    assert (await service.get("/cache/default/never-set")).status == 404
    redis_server.restart()
    await _writes_reach_redis_again(service, observer)
    assert service.app[appkeys.LINK].lifecycle.view.reconnects_total == 1


async def test_hung_redis_is_detected_and_served_from_memory(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    service, observer = await _ready_pair(app_client, redis_server)
    redis_server.pause()
    try:
        # A read that misses memory goes to the hung Redis once: it costs the
        # command timeout, is answered as a miss, and drops the link.
        miss = await service.get("/cache/default/unknown")
        assert miss.status == 404
        await link_state(service.app, *NOT_READY)
        await _exercise(service, "k2")
        view = service.app[appkeys.LINK].lifecycle.view
        assert view.last_error_kind == "timeout"
    finally:
        redis_server.resume()
    await _writes_reach_redis_again(service, observer)


async def test_idle_link_notices_a_dead_server_without_traffic(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    service = await ready_client(app_client, redis_server.url)
    redis_server.kill()
    # No request is made: the periodic PING must find out.
    await link_state(service.app, *NOT_READY)
    events = [e.to_dict()["type"] for e in service.app[appkeys.LINK].lifecycle.journal.events()]
    assert "ErrorSeen" in events and "Disconnected" in events


async def test_errors_while_ready_are_counted_not_fatal(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    import redis.asyncio as aioredis

    service = await ready_client(app_client, redis_server.url)
    raw = aioredis.Redis(port=redis_server.port)
    # Someone else wrote a hash under our key: GET answers WRONGTYPE.
    await raw.hset("roleready:default:foreign", "f", "v")
    await raw.aclose()
    got = await service.get("/cache/default/foreign")
    assert got.status == 404
    lifecycle = service.app[appkeys.LINK].lifecycle
    assert lifecycle.state == "ready"
    assert lifecycle.view.last_error_kind == "wrongtype"
    # Retried while ready: 1 try + REDIS_MAX_RETRIES_PER_REQUEST (3).
    assert lifecycle.view.errors_total == 4
