"""Stale-while-revalidate and eager refresh against a real Redis: the
value's logical expiry travels in its stamp (the app's injected clock moves
it), Redis keeps it for the stale window too, and one caller fleet-wide gets
the token that refreshes it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from statemachine.clock import FakeClock
from tests.support.waiting import ready_client

StartClient = Callable[..., Awaitable[TestClient]]
LEASE = "X-Cache-Lease"


async def _pair(
    app_client: StartClient, server: RedisServer, **env: str
) -> tuple[FakeClock, TestClient, TestClient]:
    """Two instances sharing one injected clock (their stamps' wall time)."""
    clock = FakeClock()
    a = await ready_client(app_client, server.url, clock=clock, **env)
    b = await ready_client(app_client, server.url, clock=clock, **env)
    return clock, a, b


def _tokens(answers: list[ClientResponse]) -> list[str]:
    return [a.headers[LEASE] for a in answers if a.headers.get(LEASE) not in (None, "pending")]


async def test_a_stale_value_is_served_while_one_caller_refreshes_it(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    clock, a, b = await _pair(app_client, redis_server,
                              CACHE_SWR_TTL_MS="1000", CACHE_SWR_STALE_MS="60000")
    assert (await a.put("/cache/swr/k", data=b"old")).status == 204
    clock.advance(5)  # past the TTL, within the stale window

    plain = await b.get("/cache/swr/k")
    assert plain.status == 404  # without ?lease=1 a stale value is a miss
    answers = await asyncio.gather(*(c.get("/cache/swr/k?lease=1") for c in [a, b] * 25))
    assert {(r.status, r.headers["X-Cache"], r.headers["X-Cache-Stale"]) for r in answers} == {
        (200, "hit-redis", "true")}
    assert {await r.read() for r in answers} == {b"old"}
    assert {r.headers["Age"] for r in answers} == {"5"}
    # RFC 9211: a hit whose freshness ran out 4 s ago (TTL 1 s, Age 5 s).
    assert {r.headers["Cache-Status"] for r in answers} == {"roleready; hit; ttl=-4; detail=redis"}
    (token,) = _tokens(answers)  # exactly one caller refreshes it

    holder = a if any(_tokens([r]) for r in answers[::2]) else b
    put = await holder.put("/cache/swr/k", data=b"new", headers={LEASE: token})
    assert put.status == 204
    again = await holder.get("/cache/swr/k?lease=1")
    assert (again.headers["X-Cache"], await again.read()) == ("hit-memory", b"new")
    assert "X-Cache-Stale" not in again.headers and LEASE not in again.headers
    assert again.headers["Cache-Status"] == "roleready; hit; detail=memory"
    with redis_server.client() as raw:
        assert raw.pttl("roleready:swr:k") > 55_000  # Redis holds TTL + stale window


async def test_eager_refresh_hands_one_token_near_the_end_of_a_ttl(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    clock, a, b = await _pair(app_client, redis_server,
                              CACHE_ER_TTL_MS="10000", CACHE_ER_REFRESH_AHEAD="0.2")
    await a.put("/cache/er/k", data=b"v")
    early = await asyncio.gather(*(c.get("/cache/er/k?lease=1") for c in [a, b] * 5))
    assert not _tokens(early)  # most of its life ahead: nobody refreshes
    clock.advance(8.5)  # in the last 20 % of its 10 s
    late = await asyncio.gather(*(c.get("/cache/er/k?lease=1") for c in [a, b] * 10))
    assert {r.status for r in late} == {200} and {await r.read() for r in late} == {b"v"}
    (token,) = _tokens(late)  # one caller fleet-wide, nobody waits
    plain = await b.get("/cache/er/k")
    assert plain.status == 200 and LEASE not in plain.headers
    # A plain PUT while the refresh computes: the refresh no longer fits.
    assert (await a.put("/cache/er/k", data=b"newer")).status == 204
    refreshed = await b.put("/cache/er/k", data=b"older", headers={LEASE: token})
    assert (refreshed.status, (await refreshed.json())["error"]) == (409, "stale_lease")
    assert await (await b.get("/cache/er/k")).read() == b"newer"


async def test_a_policy_for_no_namespace_stops_start_up(app_client: StartClient) -> None:
    try:
        await app_client("", CACHE_NOPE_STALE_MS="1000")
    except Exception as exc:  # noqa: BLE001 - the settings error, whatever wraps it
        assert "CACHE_NOPE_STALE_MS" in str(exc)
    else:
        raise AssertionError("a stale window for no namespace was accepted")
