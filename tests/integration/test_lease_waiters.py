"""Lease waiters have their own bound, outside the /cache/ pool of requests
in progress: with the lease of K held and the waiters' bound reached, plain
GETs still answer (hit or miss, never 503), and a further waiter gets
`pending` at once. Against a real Redis and memory-only (per-process leases)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from service import appkeys
from tests.support.waiting import eventually, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
POOL = 4
WAITERS = 6  # more than the pool: before, they filled it and plain GETs got 503
ENV = {"HTTP_MAX_INFLIGHT": str(POOL), "CACHE_LEASE_MAX_WAITERS": str(WAITERS),
       "CACHE_LEASE_MAX_WAITERS_PER_KEY": str(WAITERS), "CACHE_LEASE_WAIT_MAX_MS": "30000"}


@pytest.fixture(params=["memory-only", "redis"])
async def client(request, app_client: StartClient, redis_servers) -> TestClient:  # type: ignore[no-untyped-def]
    if request.param == "memory-only":
        return await app_client("", **ENV)
    return await ready_client(app_client, redis_servers.start().url, **ENV)


async def test_waiters_never_starve_plain_gets(client: TestClient) -> None:
    holder = await client.get("/cache/default/K?lease=1")
    assert holder.status == 404 and holder.headers["X-Cache-Lease"] not in ("", "pending")
    assert (await client.put("/cache/default/hot", data=b"v")).status == 204
    leases = client.app[appkeys.LEASES]
    waiting = []
    for n in range(1, WAITERS + 1):
        # One at a time: while it asks Redis for the lease, a waiter is a
        # request in progress like any other (the pool bounds those).
        waiting.append(asyncio.ensure_future(client.get("/cache/default/K?lease=1&wait_ms=30000")))
        await eventually(lambda n=n: leases.stats.waiters == n, what=f"{n} waiting")
    for _ in range(POOL + 2):
        miss = await client.get("/cache/default/cold")
        assert miss.status == 404 and miss.headers["X-Cache"] == "miss"
        hit = await client.get("/cache/default/hot?lease=1")  # through the handler
        assert hit.status == 200 and await hit.read() == b"v"
    started = time.monotonic()
    further = await client.get("/cache/default/K?lease=1&wait_ms=30000")
    assert further.status == 404 and further.headers["X-Cache-Lease"] == "pending"
    assert "Retry-After" in further.headers
    assert time.monotonic() - started < 5  # at once, not after wait_ms (30 s)
    assert leases.stats.turned_away == 1
    assert not any(w.done() for w in waiting)
    # The holder's PUT wakes every waiter with the value.
    token = holder.headers["X-Cache-Lease"]
    assert (await client.put("/cache/default/K", data=b"computed",
                             headers={"X-Cache-Lease": token})).status == 204
    for answer in await asyncio.gather(*waiting):
        assert answer.status == 200 and await answer.read() == b"computed"
    assert client.app[appkeys.CACHE_POOL].count == 0


async def test_the_per_key_bound_leaves_other_keys_waiting(app_client: StartClient) -> None:
    client = await app_client("", CACHE_LEASE_MAX_WAITERS="10", CACHE_LEASE_MAX_WAITERS_PER_KEY="2")
    for key in ("A", "B"):
        assert (await client.get(f"/cache/default/{key}?lease=1")).status == 404
    waiting = [asyncio.ensure_future(client.get(f"/cache/default/{key}?lease=1&wait_ms=200"))
               for key in ("A", "A", "B")]
    leases = client.app[appkeys.LEASES]
    await eventually(lambda: leases.stats.waiters == 3, what="three waiting")
    turned = await client.get("/cache/default/A?lease=1&wait_ms=200")
    assert turned.headers["X-Cache-Lease"] == "pending" and leases.stats.turned_away == 1
    assert leases.stats.waiters == 3
    for answer in await asyncio.gather(*waiting):
        assert answer.headers["X-Cache-Lease"] == "pending"  # wait_ms ran out
