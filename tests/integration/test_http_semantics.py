"""HTTP caching semantics on cache hits, against a real Redis and memory-only:
ETag on every hit (memory, Redis; hit-fill in test_leases), If-None-Match → 304 with
no body, HEAD, Age / Cache-Control: max-age on a FakeClock, and Cache-Status (RFC
9211; hit-fill's in test_leases, a stale hit's in test_stale_and_refresh)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.http.freshness import matches
from statemachine.clock import FakeClock
from tests.support.waiting import ready_client

StartClient = Callable[..., Awaitable[TestClient]]
NAMESPACE_TTL_S = 300  # CACHE_DEFAULT_TTL_MS's default


@pytest.fixture(params=["memory-only", "redis"])
async def client(request, app_client: StartClient, redis_servers) -> TestClient:  # type: ignore[no-untyped-def]
    clock = FakeClock()
    if request.param == "memory-only":
        return await app_client("", clock=clock)
    return await ready_client(app_client, redis_servers.start().url, clock=clock)


def _clock(client: TestClient) -> FakeClock:
    clock = client.app[appkeys.CLOCK]
    assert isinstance(clock, FakeClock)
    return clock


async def test_a_hit_carries_etag_age_and_max_age_of_its_ttl(client: TestClient) -> None:
    assert (await client.put("/cache/default/k?ttl_ms=120000", data=b"v")).status == 204
    _clock(client).advance(7.5)
    hit = await client.get("/cache/default/k")
    assert hit.status == 200 and await hit.read() == b"v"
    etag = hit.headers["ETag"]
    assert len(etag) == 18 and etag.startswith('"') and etag.endswith('"')
    # max-age is the whole TTL and Age the time since the PUT: a caller's
    # cache keeps it max-age - Age = 112 more seconds (RFC 9111 4.2.3).
    assert hit.headers["Cache-Control"] == "max-age=120"
    assert hit.headers["Age"] == "7"
    again = await client.get("/cache/default/k")
    assert again.headers["ETag"] == etag  # the same value, the same tag


async def test_if_none_match_with_the_current_etag_gets_304_without_a_body(
    client: TestClient,
) -> None:
    await client.put("/cache/default/k", data=b"value", headers={"Content-Type": "text/plain"})
    etag = (await client.get("/cache/default/k")).headers["ETag"]
    for field in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        cached = await client.get("/cache/default/k", headers={"If-None-Match": field})
        assert cached.status == 304, field
        assert await cached.read() == b""
        assert cached.headers["ETag"] == etag and cached.headers["X-Cache"] == "hit-memory"
        assert cached.headers["Cache-Control"] == f"max-age={NAMESPACE_TTL_S}"
        assert "Age" in cached.headers and "Content-Type" not in cached.headers
    changed = await client.get("/cache/default/k", headers={"If-None-Match": '"0000000000000000"'})
    assert changed.status == 200 and await changed.read() == b"value"
    assert changed.headers["Content-Type"] == "text/plain"


async def test_every_put_changes_the_etag_even_of_the_same_bytes(client: TestClient) -> None:
    await client.put("/cache/default/k", data=b"same")
    first = (await client.get("/cache/default/k")).headers["ETag"]
    await client.put("/cache/default/k", data=b"same")
    answer = await client.get("/cache/default/k", headers={"If-None-Match": first})
    assert answer.status == 200 and answer.headers["ETag"] != first


async def test_head_answers_the_headers_of_a_get_without_the_body(client: TestClient) -> None:
    await client.put("/cache/default/k", data=b"12345", headers={"Content-Type": "text/plain"})
    get = await client.get("/cache/default/k")
    head = await client.head("/cache/default/k")
    assert head.status == 200 and await head.read() == b""
    for name in ("ETag", "Content-Type", "X-Cache", "Cache-Control"):
        assert head.headers[name] == get.headers[name], name
    assert head.headers["Content-Length"] == "5"
    conditional = await client.head("/cache/default/k", headers={"If-None-Match": get.headers["ETag"]})
    assert conditional.status == 304
    miss = await client.head("/cache/default/absent")
    assert (miss.status, miss.headers["X-Cache"]) == (404, "miss")
    assert await miss.read() == b""


async def test_cache_status_restates_x_cache_on_hits_304s_and_misses(client: TestClient) -> None:
    await client.put("/cache/default/k", data=b"v")
    hit = await client.get("/cache/default/k")
    assert hit.headers["Cache-Status"] == "roleready; hit; detail=memory"
    cached = await client.get("/cache/default/k", headers={"If-None-Match": hit.headers["ETag"]})
    assert (cached.status, cached.headers["Cache-Status"]) == (304, "roleready; hit; detail=memory")
    for method in ("GET", "HEAD"):
        miss = await client.request(method, "/cache/default/absent")
        assert (miss.status, miss.headers["Cache-Status"]) == (404, "roleready; fwd=miss")
    # Not cache answers: an unknown namespace, a refused key, a PUT.
    for answer in (await client.get("/cache/nowhere/k"), await client.get("/cache/default/a%20b"),
                   await client.put("/cache/default/k", data=b"w")):
        assert "Cache-Status" not in answer.headers, answer.status


async def test_a_miss_ignores_if_none_match(client: TestClient) -> None:
    answer = await client.get("/cache/default/none", headers={"If-None-Match": "*"})
    assert answer.status == 404 and answer.headers["X-Cache"] == "miss"


async def test_a_redis_hit_on_another_instance_has_the_same_etag_and_age(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    clock = FakeClock()
    a = await ready_client(app_client, redis_server.url, clock=clock)
    b = await ready_client(app_client, redis_server.url, clock=clock)
    await a.put("/cache/default/shared", data=b"x")
    etag = (await a.get("/cache/default/shared")).headers["ETag"]
    clock.advance(3)
    from_redis = await b.get("/cache/default/shared")
    assert from_redis.headers["X-Cache"] == "hit-redis"
    assert from_redis.headers["Cache-Status"] == "roleready; hit; detail=redis"
    assert (from_redis.headers["ETag"], from_redis.headers["Age"]) == (etag, "3")
    assert from_redis.headers["Cache-Control"] == f"max-age={NAMESPACE_TTL_S}"
    # A caller revalidating against the other instance pays no body.
    again = await b.get("/cache/default/shared", headers={"If-None-Match": etag})
    assert again.status == 304


@pytest.mark.parametrize(
    ("field", "tag", "expected"),
    [
        ('"a"', '"a"', True),
        ('W/"a"', '"a"', True),
        (' "b" ,  "a" ', '"a"', True),
        ("*", '"a"', True),
        ('"b"', '"a"', False),
        ("", '"a"', False),
        ('"a', '"a"', False),
    ],
)
def test_if_none_match_comparison(field: str, tag: str, expected: bool) -> None:
    assert matches(field, tag) is expected
