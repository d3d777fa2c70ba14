"""Two instances' memory tiers follow Redis: invalidation through Redis's own
client-side caching (CLIENT TRACKING ... BCAST ... NOLOOP, redirected to a
RESP2 subscriber). Convergence is asserted within 2 s, never milliseconds
(the milliseconds are scripts/bench's)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.cache import codec
from tests.support.waiting import eventually, eventually_async, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
CONVERGED_S = 2.0


async def _pair(app_client: StartClient, server: RedisServer) -> tuple[TestClient, TestClient]:
    return (await ready_client(app_client, server.url), await ready_client(app_client, server.url))


def _v2(body: bytes) -> bytes:
    """A value as the service writes it, written by another program."""
    return codec.encode(body, "text/plain", codec.new_stamp(time.time(), 60_000))


async def _answer(client: TestClient, path: str) -> tuple[int, str, bytes]:
    response = await client.get(path)
    return response.status, response.headers["X-Cache"], await response.read()


async def _serves(client: TestClient, path: str, expected: bytes | None) -> None:
    async def check() -> bool:
        status, _, body = await _answer(client, path)
        return (status, body) == (200, expected) if expected is not None else status == 404

    await eventually_async(check, timeout=CONVERGED_S, what=f"{path} -> {expected!r}")


async def test_a_write_or_delete_through_one_instance_reaches_the_others_memory(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server)
    await a.put("/cache/default/k", data=b"v1")
    assert await _answer(b, "/cache/default/k") == (200, "hit-redis", b"v1")
    assert await _answer(b, "/cache/default/k") == (200, "hit-memory", b"v1")
    await a.put("/cache/default/k", data=b"v2")
    await _serves(b, "/cache/default/k", b"v2")
    await a.delete("/cache/default/k")
    await _serves(b, "/cache/default/k", None)
    dropped = b.app[appkeys.CACHE].stats.invalidated
    assert dropped >= 2
    coherence = (await (await b.get("/health/detailed")).json())["checks"]["cache"]["coherence"]
    assert coherence["invalidationStream"] == "subscribed"
    assert coherence["invalidated"] == dropped
    assert coherence["invalidationsReceived"] >= dropped
    metrics = await (await b.get("/metrics")).text()
    assert f"roleready_cache_invalidated_total {float(dropped)}" in metrics


async def test_changes_made_straight_in_redis_reach_every_instance(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server)
    raw = aioredis.Redis(port=redis_server.port)
    # An instance not yet upgraded writes v1; the stored format v2 is read too.
    await raw.set("roleready:default:x", codec.encode_v1(b"outside-1", "text/plain"))
    for client in (a, b):
        assert (await _answer(client, "/cache/default/x"))[2] == b"outside-1"
    await raw.set("roleready:default:x", _v2(b"outside-2"))
    for client in (a, b):
        await _serves(client, "/cache/default/x", b"outside-2")
    await raw.pexpire("roleready:default:x", 1)  # expiry in Redis, seen as a change
    for client in (a, b):
        await _serves(client, "/cache/default/x", None)
    await raw.set("roleready:default:y", _v2(b"y"))
    assert (await _answer(b, "/cache/default/y"))[2] == b"y"
    await raw.delete("roleready:default:y")
    await _serves(b, "/cache/default/y", None)
    await raw.aclose()


async def test_a_flush_empties_every_memory_tier(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server)
    for i in range(3):
        await a.put(f"/cache/default/k{i}", data=b"v")
        await b.get(f"/cache/default/k{i}")
    raw = aioredis.Redis(port=redis_server.port)
    await raw.flushall()
    await raw.aclose()
    for client in (a, b):
        memory = client.app[appkeys.CACHE].memory
        await eventually(lambda m=memory: len(m) == 0, timeout=CONVERGED_S, what="an empty tier")
        assert (await client.get("/cache/default/k0")).status == 404


async def test_an_instances_own_writes_do_not_come_back_to_it(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server)
    for i in range(20):
        await a.put(f"/cache/default/own{i}", data=b"v")
    # b hears all 20 (it holds none, so drops none); a hears none of its own.
    await b.put("/cache/default/marker", data=b"m")
    await _serves(a, "/cache/default/marker", b"m")
    # Without NOLOOP, a's 20 writes would have dropped a's own 20 entries.
    assert a.app[appkeys.CACHE].stats.invalidated == 0
    for i in range(20):
        assert (await _answer(a, f"/cache/default/own{i}"))[1] == "hit-memory"


async def test_losing_the_subscriber_is_a_link_drop_and_memory_is_not_trusted_after(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server)
    await a.put("/cache/default/k", data=b"v1")
    await b.get("/cache/default/k")  # in b's memory now
    link = b.app[appkeys.LINK]
    session = link.session()
    assert session is not None and session.subscriber is not None
    with redis_server.client() as admin:
        assert admin.execute_command("CLIENT", "KILL", "ID", session.subscriber.client_id) == 1
        # While b is deaf, the value changes in Redis.
        admin.set("roleready:default:k", _v2(b"v2"))
    await eventually(lambda: link.lifecycle.view.reconnects_total == 1, what="a reconnect")
    await link_state(b.app, "ready")
    messages = [e.to_dict().get("message") or "" for e in link.lifecycle.journal.events()]
    assert any("invalidation subscriber lost" in m for m in messages)
    assert b.app[appkeys.CACHE].stats.forgotten_at_reconnect >= 1
    assert await _answer(b, "/cache/default/k") == (200, "hit-redis", b"v2")


async def test_a_fill_whose_key_changed_in_flight_answers_but_is_not_kept(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a = await ready_client(app_client, redis_server.url)
    await a.put("/cache/default/k", data=b"old")
    cache = a.app[appkeys.CACHE]
    cache.memory.clear()
    fill = asyncio.create_task(cache.get_redis("default", "k"))
    await asyncio.sleep(0)  # the GET is on its way; its reply is not read yet
    assert not fill.done()
    cache.invalidated([b"roleready:default:k"])  # another instance wrote meanwhile
    found = await fill
    assert found is not None and found.value == b"old"  # concurrent: may answer
    assert cache.memory.get("default", "k") is None  # but is not kept as fresh
