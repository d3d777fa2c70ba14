"""Request coalescing against a real redis-server: concurrent misses of one
key send one GET (counted by Redis itself, INFO commandstats).

The link's reads are held at a gate until every request has reached it, so
"concurrent" is certain rather than likely (CLIENT PAUSE cannot be lifted
early: CLIENT UNPAUSE waits behind it). What goes to Redis after the gate is
real. The orderings with writes and invalidations: tests/service/test_shared_reads.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.app import create_app
from service.cache import codec
from tests.conftest import make_settings
from tests.support.waiting import eventually, link_state

NAME = "roleready:default:k"
PATH = "/cache/default/k"


class Gate:
    """Wraps the link's `execute`: every read of the key waits until `open`
    is set. Other batches (the link's idle PING, once a second) pass: on a
    slow machine the test outlives a health-check interval."""

    def __init__(self, execute: Any) -> None:
        self._execute = execute
        self.open = asyncio.Event()
        self.waiting = 0
        self.cancelled = 0

    async def execute(self, commands: Sequence[Any], *, retries: int = 0) -> list[Any] | None:
        if not any(isinstance(command, tuple | list) and list(command[:2]) == ["GET", NAME]
                   for command in commands):
            return await self._execute(commands, retries=retries)
        self.waiting += 1
        try:
            await self.open.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        return await self._execute(commands, retries=retries)


async def _held_client(
    aiohttp_client: Any, server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[TestClient, Gate]:
    # handler_cancellation: a client that goes away cancels its handler, the
    # harder case for a shared read (the service's own server leaves it off).
    settings = make_settings(server.url, REDIS_LAZY_CONNECT="false")
    client = await aiohttp_client(create_app(settings), server_kwargs={"handler_cancellation": True})
    await link_state(client.app, "ready")
    link = client.app[appkeys.LINK]
    gate = Gate(link.execute)
    monkeypatch.setattr(link, "execute", gate.execute)
    return client, gate


def _v2(body: bytes) -> bytes:
    return codec.encode(body, "text/plain", codec.new_stamp(1_800_000_000, 60_000))


async def _redis_with(server: RedisServer, value: Any) -> aioredis.Redis:
    raw = aioredis.Redis(port=server.port)
    await raw.delete(NAME)
    if isinstance(value, dict):
        await raw.hset(NAME, mapping=value)  # not a string: GET fails with WRONGTYPE
    else:
        await raw.set(NAME, value, px=60_000)
    await raw.config_resetstat()
    return raw


async def _gets_sent(raw: aioredis.Redis) -> int:
    stats = await raw.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


async def _misses_reach(client: TestClient, n: int) -> None:
    stats = client.app[appkeys.CACHE].stats
    await eventually(lambda: stats.memory_misses >= n, what=f"{n} misses waiting")


async def test_fifty_concurrent_misses_send_one_get(
    aiohttp_client: Any, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, gate = await _held_client(aiohttp_client, redis_server, monkeypatch)
    raw = await _redis_with(redis_server, _v2(b"shared"))
    requests = [asyncio.create_task(client.get(PATH)) for _ in range(50)]
    await _misses_reach(client, 50)
    assert gate.waiting == 1
    gate.open.set()
    answers = await asyncio.gather(*requests)
    assert [a.status for a in answers] == [200] * 50
    assert {await a.read() for a in answers} == {b"shared"}
    assert {a.headers["X-Cache"] for a in answers} == {"hit-redis"}
    assert await _gets_sent(raw) == 1
    stats = client.app[appkeys.CACHE].stats
    assert (stats.coalesced_reads, stats.hits, stats.misses) == (49, 50, 0)
    report = await (await client.get("/health/detailed")).json()
    assert report["checks"]["cache"]["redis"]["coalescedReads"] == 49
    assert report["checks"]["cache"]["redis"]["hitRate"] == "100.00%"
    metrics = await (await client.get("/metrics")).text()
    assert "roleready_cache_coalesced_reads_total 49.0" in metrics
    assert 'roleready_cache_lookups_total{result="hit_redis"} 50.0' in metrics
    await raw.aclose()


async def test_a_first_caller_that_disconnects_does_not_break_the_others(
    aiohttp_client: Any, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, gate = await _held_client(aiohttp_client, redis_server, monkeypatch)
    raw = await _redis_with(redis_server, _v2(b"v"))
    async with aiohttp.ClientSession() as leaving:
        first = asyncio.create_task(leaving.get(client.make_url(PATH)))
        await _misses_reach(client, 1)
        others = [asyncio.create_task(client.get(PATH)) for _ in range(10)]
        await _misses_reach(client, 11)
        first.cancel()  # the client goes away; its handler is cancelled
    await eventually(lambda: gate.cancelled == 1 and gate.waiting == 2,
                     what="the leader cancelled and a joined caller leading")
    gate.open.set()
    answers = await asyncio.gather(*others)
    assert [(a.status, await a.read()) for a in answers] == [(200, b"v")] * 10
    assert await _gets_sent(raw) == 1
    await raw.aclose()


async def test_a_failing_read_is_a_miss_for_every_caller_that_joined_it(
    aiohttp_client: Any, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, gate = await _held_client(aiohttp_client, redis_server, monkeypatch)
    raw = await _redis_with(redis_server, {"field": "not a cache value"})
    requests = [asyncio.create_task(client.get(PATH)) for _ in range(20)]
    await _misses_reach(client, 20)
    gate.open.set()
    answers = await asyncio.gather(*requests)
    assert [(a.status, a.headers["X-Cache"]) for a in answers] == [(404, "miss")] * 20
    # One read, retried by the link (REDIS_MAX_RETRIES_PER_REQUEST), not twenty.
    settings = client.app[appkeys.SETTINGS]
    assert 1 <= await _gets_sent(raw) <= 1 + settings.redis_max_retries_per_request
    assert client.app[appkeys.CACHE].stats.coalesced_reads == 19
    await raw.aclose()
