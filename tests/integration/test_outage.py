"""Redis killed or hung: the API keeps answering from memory, then recovers."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from tests.support.waiting import eventually, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
NOT_READY = ("error", "reconnecting", "failed")


DEGRADED = ("X-Cache-Degraded", "redis-unavailable")


async def _exercise(client: TestClient, key: str) -> None:
    """Every operation answers normally (never 5xx) while Redis is out, says
    it is degraded, and that writes reached memory only."""
    put = await client.put(f"/cache/default/{key}", data=b"during-outage")
    assert (put.status, put.headers["X-Cache-Stored"]) == (204, "memory")
    got = await client.get(f"/cache/default/{key}")
    assert (got.status, got.headers["X-Cache"]) == (200, "hit-memory")
    assert await got.read() == b"during-outage"
    deleted = await client.delete(f"/cache/default/{key}")
    assert (deleted.status, deleted.headers["X-Cache-Stored"]) == (204, "memory")
    miss = await client.get(f"/cache/default/{key}")
    assert (miss.status, miss.headers["X-Cache"]) == (404, "miss")
    for answer in (put, got, deleted, miss):
        assert answer.headers.get(DEGRADED[0]) == DEGRADED[1]


async def _ready_pair(app_client: StartClient, server: RedisServer) -> tuple[TestClient, TestClient]:
    service = await ready_client(app_client, server.url)
    observer = await ready_client(app_client, server.url, CACHE_LRU_MAX_ITEMS="0")
    return service, observer


async def _writes_reach_redis_again(service: TestClient, observer: TestClient) -> None:
    await link_state(service.app, "ready")
    await link_state(observer.app, "ready")
    put = await service.put("/cache/default/after", data=b"back")
    assert (put.status, put.headers["X-Cache-Stored"]) == (204, "redis")
    seen = await observer.get("/cache/default/after")
    assert (seen.status, seen.headers["X-Cache"]) == (200, "hit-redis")
    hit = await service.get("/cache/default/after")
    for answer in (put, seen, hit):
        assert DEGRADED[0] not in answer.headers


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


# The defaults a hang meets in production: REDIS_COMMAND_TIMEOUT_MS 250 and a
# health PING only every 1000 ms, so the request itself meets the hang.
PRODUCTION_TIMING = {"REDIS_HEALTH_CHECK_INTERVAL_MS": "1000"}
# The budget plus scheduling slack on a loaded 2-core machine; a deadline
# even 4x the budget (1 s) fails this.
HANG_BUDGET_S = 0.25 + 0.5


async def test_a_request_meeting_a_hung_redis_costs_at_most_the_command_timeout(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    service = await ready_client(app_client, redis_server.url, **PRODUCTION_TIMING)
    settings = service.app[appkeys.SETTINGS]
    assert (settings.redis_command_timeout_ms, settings.redis_health_check_interval_ms) == (250, 1000)
    redis_server.pause()
    try:
        started = time.monotonic()
        miss = await service.get("/cache/default/unknown")
        elapsed = time.monotonic() - started
        assert miss.status == 404
        assert elapsed < HANG_BUDGET_S, f"{elapsed:.3f} s"
        # The PUT after it is answered from memory at once (the link dropped).
        started = time.monotonic()
        assert (await service.put("/cache/default/k", data=b"v")).status == 204
        assert time.monotonic() - started < HANG_BUDGET_S
    finally:
        redis_server.resume()


async def test_an_idle_link_notices_its_traffic_connection_was_killed(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    service = await ready_client(app_client, redis_server.url)
    link = service.app[appkeys.LINK]
    replies = await link.execute((("CLIENT", "ID"),))
    assert replies is not None
    with redis_server.client() as admin:
        # Only the connection that carries the cache's commands; no request follows.
        assert admin.execute_command("CLIENT", "KILL", "ID", replies[0]) == 1
    await eventually(lambda: link.lifecycle.view.reconnects_total == 1, what="a reconnect")
    assert link.lifecycle.view.last_error_kind in ("connection", "connection_reset")


# Largest entry kept in memory: 1/16 of 16 KiB = 1 KiB.
SMALL_MEMORY = {"CACHE_LRU_MAX_BYTES": "16384"}
LARGE = b"L" * 2048


async def test_a_value_too_large_for_memory_lives_in_redis_alone(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    service = await ready_client(app_client, redis_server.url, **SMALL_MEMORY)
    assert (await service.put("/cache/default/big", data=b"small")).status == 204
    assert (await service.put("/cache/default/big", data=LARGE)).status == 204
    # Never kept in memory, and the older small copy is gone: every read is Redis's.
    for _ in range(2):
        got = await service.get("/cache/default/big")
        assert (got.status, got.headers["X-Cache"], await got.read()) == (200, "hit-redis", LARGE)
    assert len(service.app[appkeys.CACHE].memory) == 0


async def test_a_too_large_put_during_an_outage_is_503_and_changes_nothing(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    service = await ready_client(app_client, redis_server.url, **SMALL_MEMORY)
    assert (await service.put("/cache/default/k", data=b"small")).status == 204
    redis_server.kill()
    await service.get("/cache/default/other")  # meets the dead server
    await link_state(service.app, *NOT_READY)
    refused = await service.put("/cache/default/k", data=LARGE)
    assert (refused.status, refused.headers["Retry-After"]) == (503, "1")
    assert (await refused.json())["error"] == "not_stored"
    got = await service.get("/cache/default/k")
    assert (got.status, await got.read()) == (200, b"small")


async def test_memory_only_refuses_a_value_it_cannot_keep(app_client: StartClient) -> None:
    service = await app_client("", **SMALL_MEMORY)
    refused = await service.put("/cache/default/k", data=LARGE)
    assert refused.status == 413 and (await refused.json())["error"] == "too_large"
    assert (await service.get("/cache/default/k")).status == 404


async def test_with_the_memory_tier_disabled_a_put_during_an_outage_is_503(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    service = await ready_client(app_client, redis_server.url, CACHE_LRU_MAX_ITEMS="0")
    assert (await service.put("/cache/default/k", data=b"v")).status == 204
    redis_server.kill()
    await service.get("/cache/default/other")  # meets the dead server
    await link_state(service.app, *NOT_READY)
    refused = await service.put("/cache/default/k", data=b"v2")
    assert refused.status == 503 and (await refused.json())["error"] == "not_stored"
    memory_only = await app_client("", CACHE_LRU_MAX_ITEMS="0")
    refused = await memory_only.put("/cache/default/k", data=b"v")
    assert refused.status == 413 and "disabled" in (await refused.json())["message"]
