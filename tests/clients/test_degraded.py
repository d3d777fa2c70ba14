"""The Python clients (both twins) against an instance whose Redis was killed:
every answer says it is degraded, writes land in memory, get_or_compute
still computes once and never raises; and `overloaded` (that instance
allows one request in progress) is a typed error with its Retry-After."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from roleready_cache_client import AsyncClient, Overloaded, Stored

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
    # The one request in progress this instance allows: a PUT whose body
    # never finishes arriving (it holds its slot until the body timeout).
    url = urlsplit(down.urls[0])
    _, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(f"PUT /cache/default/{unique('slow')} HTTP/1.1\r\nHost: cache\r\n"
                 f"Authorization: Bearer {TOKEN}\r\nContent-Length: 10\r\n\r\nv".encode())
    await writer.drain()
    try:
        async with AsyncClient(down.urls[0], token=TOKEN) as client:
            busy = await _refused(client)
        assert (busy.status, busy.code, busy.retry_after) == (503, "overloaded", 1.0)
    finally:
        writer.close()


async def _refused(client: AsyncClient) -> Overloaded:
    """Requests until one is refused (the slow PUT may take a moment to land)."""
    for _ in range(200):
        try:
            await client.get(unique("other"))
        except Overloaded as busy:
            return busy
        await asyncio.sleep(0.01)
    raise AssertionError("never overloaded")
