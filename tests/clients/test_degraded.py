"""The Python clients (both twins) against an instance whose Redis was killed:
every answer says it is degraded, writes land in memory, get_or_compute
still computes once and never raises; and `overloaded` (that instance
allows one request in progress) is a typed error with its Retry-After."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import pytest
from roleready_cache_client import AsyncClient, Overloaded, Stored
from roleready_cache_client.protocol import Answer

from tests.clients.conftest import TOKEN, Fleet, unique
from tests.clients.twins import KINDS, Twin, twins

pytestmark = pytest.mark.redis


@pytest.fixture(params=KINDS)
async def cache(request: pytest.FixtureRequest, down: Fleet) -> AsyncIterator[Twin]:
    async with twins(request.param) as make:
        yield make(down.urls[0], token=TOKEN)


async def test_answers_say_they_are_degraded(cache: Twin) -> None:
    key, other = unique("d"), unique("d")
    assert await cache.put(key, "kept in memory") == Stored("memory", degraded=True)
    entry = await cache.get(key)
    assert entry is not None and (entry.text(), entry.source, entry.degraded) == (
        "kept in memory", "hit-memory", True)
    many = await cache.mset({other: "also"})
    assert many.stored == {other: "memory"} and many.degraded
    found = await cache.mget([key, other])
    assert all(hit is not None and hit.degraded for hit in found.values())
    assert await cache.delete(key) == Stored("memory", degraded=True)
    assert (await cache.health())["status"] == "degraded"


async def test_get_or_compute_without_redis(cache: Twin) -> None:
    key = unique("d")
    calls: list[int] = []
    lock = threading.Lock()

    def compute() -> str:
        with lock:
            calls.append(1)
        return "computed without Redis"

    # One after the other: the instance allows one request in progress.
    first = await cache.get_or_compute(key, cache.blocking(compute))
    second = await cache.get_or_compute(key, cache.blocking(compute))
    assert (first.source, first.text()) == ("computed", "computed without Redis")
    assert (second.source, second.degraded) == ("hit-memory", True) and len(calls) == 1


async def test_overloaded_is_typed_with_its_retry_after(down: Fleet) -> None:
    async with AsyncClient(down.urls[0], token=TOKEN) as client:
        key = unique("busy")
        granted: Answer = await client.send(client.protocol.leased_get(key, 0))
        assert granted.headers["x-cache-lease"] != "pending"
        busy = None
        for _ in range(5):  # a stalled machine may let a waiter end before a request lands
            busy = await _refused_while_one_waits(client, key)
            if busy is not None:
                break
        assert busy is not None, "never overloaded"
        assert (busy.status, busy.code, busy.retry_after) == (503, "overloaded", 1.0)


async def _refused_while_one_waits(client: AsyncClient, key: str) -> Overloaded | None:
    """While a leased GET waits for the holder (0.5 s; the one request in
    progress), other requests until one is refused."""
    waiter = asyncio.ensure_future(client.send(client.protocol.leased_get(key, 500)))
    try:
        while not waiter.done():
            try:
                await client.get(unique("other"))
            except Overloaded as busy:
                return busy
            await asyncio.sleep(0.01)
        return None
    finally:
        await waiter
