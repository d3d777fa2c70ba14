"""Leases against a real Redis and two instances: one computation per
missing key, waiters woken with the holder's value, stale sets refused, and
per-process leases while Redis is away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from tests.support.waiting import eventually, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
LEASE = "X-Cache-Lease"


async def _pair(app_client: StartClient, server: RedisServer, **env: str) -> list[TestClient]:
    return [await ready_client(app_client, server.url, **env) for _ in range(2)]


def _token(answer: ClientResponse) -> str | None:
    token = answer.headers.get(LEASE)
    return None if token in (None, "pending") else token


async def test_a_stampede_over_two_instances_costs_one_computation(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server)
    callers = [a if i % 2 else b for i in range(100)]
    asked = [asyncio.ensure_future(c.get("/cache/ai_draft/d1?lease=1")) for c in callers]

    def tokens_so_far() -> list[tuple[int, str]]:
        return [(i, t) for i, f in enumerate(asked) if f.done() and (t := _token(f.result()))]

    await eventually(lambda: len(tokens_so_far()) == 1, what="one token")
    [(holder_index, token)] = tokens_so_far()
    await asyncio.sleep(0.3)  # the holder computes; everyone else waits
    assert sum(f.done() for f in asked) == 1
    put = await callers[holder_index].put(
        "/cache/ai_draft/d1", data=b"the draft", headers={LEASE: token})
    assert (put.status, put.headers["X-Cache-Stored"]) == (204, "redis")
    answers = await asyncio.gather(*asked)
    others = [r for i, r in enumerate(answers) if i != holder_index]
    assert {(r.status, r.headers["X-Cache"]) for r in others} == {(200, "hit-fill")}
    # RFC 9211: forwarded as a miss, collapsed into the holder's computation.
    assert {r.headers["Cache-Status"] for r in others} == {"roleready; fwd=miss; collapsed"}
    # The woken callers got the holder's value with its validator.
    stored_etag = (await a.get("/cache/ai_draft/d1")).headers["ETag"]
    assert {r.headers["ETag"] for r in others} == {stored_etag}
    assert {await r.read() for r in others} == {b"the draft"}
    assert sum(1 for r in answers if _token(r)) == 1
    stats = [(await (await c.get("/health/detailed")).json())["checks"]["cache"]["leases"]
             for c in (a, b)]
    assert sum(s["issued"] for s in stats) == 1 and sum(s["filled"] for s in stats) == 99
    assert all(s["waiters"] == 0 for s in stats)


async def test_a_dead_holder_is_replaced_once_its_lease_runs_out(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server, CACHE_LEASE_DURATION_MS="600")
    first = await a.get("/cache/default/k?lease=1")
    assert _token(first) is not None  # ... and its holder never comes back
    started = time.monotonic()
    # Waiting past the first lease (600 ms), not past the next one's end.
    waiters = await asyncio.gather(*(c.get("/cache/default/k?lease=1&wait_ms=1000")
                                     for c in (a, b, a, b)))
    took_over = [w for w in waiters if _token(w)]
    assert len(took_over) == 1, [w.headers.get(LEASE) for w in waiters]
    assert time.monotonic() - started >= 0.4  # not before the lease ran out
    # The others waited on for the new holder, who never PUT either.
    assert {w.headers[LEASE] for w in waiters if w not in took_over} == {"pending"}
    for client in (a, b):  # nothing kept for a key nobody waits on any more
        leases = client.app[appkeys.LEASES]
        assert (leases._signals, leases._callers) == ({}, {})
    stats = [(await (await c.get("/health/detailed")).json())["checks"]["cache"]["leases"]
             for c in (a, b)]
    assert sum(s["expired"] for s in stats) == 1 and sum(s["takenOver"] for s in stats) == 1


async def test_a_lease_given_back_goes_to_a_waiter_at_once(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server, CACHE_LEASE_DURATION_MS="20000")
    token = _token(await a.get("/cache/default/k?lease=1"))
    assert token is not None
    waiting = asyncio.ensure_future(b.get("/cache/default/k?lease=1&wait_ms=10000"))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    started = time.monotonic()
    given_back = await a.delete("/cache/default/k/lease", headers={LEASE: token})
    assert given_back.status == 204
    answer = await waiting
    assert _token(answer) not in (None, token)
    assert time.monotonic() - started < 5  # at once, not after the 20 s lease
    again = await a.delete("/cache/default/k/lease", headers={LEASE: token})
    assert (again.status, (await again.json())["error"]) == (409, "stale_lease")


async def test_a_holder_cannot_undo_a_later_delete_or_put(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server)
    token = _token(await a.get("/cache/default/x?lease=1"))
    assert token is not None
    assert (await b.delete("/cache/default/x")).status == 204
    late = await a.put("/cache/default/x", data=b"old", headers={LEASE: token})
    assert (late.status, (await late.json())["error"]) == (409, "stale_lease")
    assert (await b.get("/cache/default/x")).status == 404
    with redis_server.client() as raw:
        assert raw.get("roleready:default:x") is None

    token = _token(await a.get("/cache/default/y?lease=1"))
    assert token is not None
    assert (await b.put("/cache/default/y", data=b"newer")).status == 204
    late = await a.put("/cache/default/y", data=b"older", headers={LEASE: token})
    assert late.status == 409
    for client in (a, b):
        await eventually_body(client, "/cache/default/y", b"newer")


async def eventually_body(client: TestClient, path: str, body: bytes) -> None:
    async def check() -> bool:
        return await (await client.get(path)).read() == body

    deadline = time.monotonic() + 5
    while not await check():
        assert time.monotonic() < deadline, f"{path} never read {body!r}"
        await asyncio.sleep(0.02)


async def test_leases_are_per_process_while_redis_is_away(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server)
    held = _token(await a.get("/cache/default/held?lease=1"))
    assert held is not None and held.startswith("r")
    waiter = asyncio.ensure_future(b.get("/cache/default/held?lease=1&wait_ms=800"))
    await asyncio.sleep(0.1)
    redis_server.kill()  # during a lease, with a waiter waiting
    started = time.monotonic()
    waited = await waiter
    assert waited.status == 404 and time.monotonic() - started < 2  # by wait_ms, no hang
    await link_state(a.app, "error", "reconnecting")
    first = await a.get("/cache/default/k?lease=1")
    token = _token(first)
    assert token is not None and first.headers["X-Cache-Degraded"] == "redis-unavailable"
    started = time.monotonic()
    waiting = await a.get("/cache/default/k?lease=1&wait_ms=300")
    assert waiting.headers[LEASE] == "pending" and waiting.headers["Retry-After"]
    assert time.monotonic() - started < 2  # nothing waits past wait_ms
    # The other process has its own leases meanwhile (one computation each).
    assert _token(await b.get("/cache/default/k?lease=1")) is not None
    put = await a.put("/cache/default/k", data=b"v", headers={LEASE: token})
    assert (put.status, put.headers["X-Cache-Stored"]) == (204, "memory")
    assert (await a.get("/cache/default/k")).status == 200

    redis_server.restart()
    for client in (a, b):
        await link_state(client.app, "ready")
    fresh = _token(await a.get("/cache/default/fleet?lease=1"))
    assert fresh is not None
    assert (await b.get("/cache/default/fleet?lease=1&wait_ms=0")).headers[LEASE] == "pending"


async def test_bad_lease_input_is_a_400_and_changes_nothing(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    (client,) = [await ready_client(app_client, redis_server.url)]
    for query in ("lease=2", "lease=1&wait_ms=-1", "lease=1&wait_ms=30001", "lease=1&wait_ms=x"):
        answer = await client.get(f"/cache/default/k?{query}")
        assert answer.status == 400, query
    bad = await client.put("/cache/default/k", data=b"v", headers={LEASE: "not a token!"})
    assert (bad.status, (await bad.json())["error"]) == (400, "bad_lease")
    no_token = await client.delete("/cache/default/k/lease")
    assert no_token.status == 400
    assert (await client.get("/cache/default/k")).status == 404
    # The plain GET and PUT are as before.
    assert "X-Cache-Lease" not in (await client.get("/cache/default/k")).headers


async def test_bad_lease_parameters_are_refused_on_a_memory_hit_too(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    (client,) = [await ready_client(app_client, redis_server.url)]
    await client.put("/cache/default/held", data=b"v")
    assert (await client.get("/cache/default/held?lease=1")).status == 200
    for query in ("lease=2", "lease=1&wait_ms=abc"):
        answer = await client.get(f"/cache/default/held?{query}")
        assert answer.status == 400, query


def _forged(token: str) -> str:
    """A token of `token`'s form (its kind letter, its length) that is not it."""
    swapped = "A" if token[1] != "A" else "B"
    return token[0] + swapped + token[2:]


async def _a_foreign_token_fills_nothing(client: TestClient, kind: str) -> None:
    held = _token(await client.get("/cache/default/k?lease=1"))
    assert held is not None and held.startswith(kind)
    forged = _forged(held)
    foreign = await client.put("/cache/default/k", data=b"intruder", headers={LEASE: forged})
    assert (foreign.status, (await foreign.json())["error"]) == (409, "stale_lease")
    assert (await client.get("/cache/default/k")).status == 404
    # The holder's own token still fills the key.
    filled = await client.put("/cache/default/k", data=b"computed", headers={LEASE: held})
    assert filled.status == 204
    assert await (await client.get("/cache/default/k")).read() == b"computed"


async def test_a_well_formed_foreign_token_fills_nothing_while_a_lease_is_held(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    await _a_foreign_token_fills_nothing(client, "r")
    with redis_server.client() as raw:
        assert raw.get("roleready:default:k") is not None  # the holder's, in Redis


async def test_a_well_formed_foreign_token_fills_nothing_in_memory_only_mode(
    app_client: StartClient,
) -> None:
    await _a_foreign_token_fills_nothing(await app_client(""), "m")
