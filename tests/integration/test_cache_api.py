"""The HTTP cache API against real redis-server processes (and memory-only)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, make_mocked_request

from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.http import cache_api, hits
from service.http.responses import TITLES
from statemachine.clock import FakeClock
from tests.support.waiting import eventually_async, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]


@pytest.fixture(params=["memory-only", "redis"])
async def client(request, app_client: StartClient, redis_servers) -> TestClient:  # type: ignore[no-untyped-def]
    """The same endpoint tests run memory-only and with a real Redis."""
    if request.param == "memory-only":
        return await app_client("")
    server = redis_servers.start()
    client = await app_client(server.url)
    await client.get("/cache/default/warm-up")  # lazy connect starts here
    await link_state(client.app, "ready")
    return client


async def test_put_get_delete_round_trip(client: TestClient) -> None:
    put = await client.put(
        "/cache/default/user:1", data=b'{"a":1}', headers={"Content-Type": "application/json"}
    )
    assert put.status == 204
    got = await client.get("/cache/default/user:1")
    assert got.status == 200
    assert got.headers["X-Cache"] == "hit-memory"
    assert got.headers["Content-Type"] == "application/json"
    assert await got.read() == b'{"a":1}'
    assert (await client.delete("/cache/default/user:1")).status == 204
    assert (await client.delete("/cache/default/user:1")).status == 204  # idempotent
    miss = await client.get("/cache/default/user:1")
    assert miss.status == 404
    assert miss.headers["X-Cache"] == "miss"
    assert (await miss.json())["error"] == "miss"
    # Where writes landed; and never "degraded", memory-only or ready alike.
    redis_mode = client.app[appkeys.LINK].enabled
    assert put.headers["X-Cache-Stored"] == ("redis" if redis_mode else "memory")
    for answer in (put, got, miss):
        assert "X-Cache-Degraded" not in answer.headers


async def test_content_type_with_parameters_and_binary_body(client: TestClient) -> None:
    body = bytes(range(256)) * 4
    await client.put(
        "/cache/ai_draft/d-1", data=body, headers={"Content-Type": "text/plain; charset=latin-1"}
    )
    got = await client.get("/cache/ai_draft/d-1")
    assert got.headers["Content-Type"] == "text/plain; charset=latin-1"
    assert await got.read() == body


async def test_missing_content_type_defaults_to_octet_stream(client: TestClient) -> None:
    await client.put("/cache/default/raw", data=b"x", headers={"Content-Type": ""})
    got = await client.get("/cache/default/raw")
    assert got.headers["Content-Type"] == "application/octet-stream"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/cache/nope/k", 404, "unknown_namespace"),
        ("/cache/default/has%20space", 400, "bad_key"),
        ("/cache/default/" + "k" * 513, 400, "bad_key"),
        ("/cache/default/a%2Fb", 400, "bad_key"),
    ],
)
async def test_bad_targets_are_refused_and_change_nothing(
    client: TestClient, path: str, status: int, code: str
) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, path, data=b"v")
        assert response.status == status, method
        body = await response.json()
        assert body["error"] == code and body["message"]
    assert len(client.app[appkeys.CACHE].memory) == 0


async def test_errors_are_problem_details_that_keep_the_error_code(client: TestClient) -> None:
    """RFC 9457 bodies, single-key and batch routes alike; `error` and
    `message` stay for the callers that read them before."""
    answers = [
        (await client.get("/cache/default/absent"), 404, "miss"),
        (await client.put("/cache/default/k?ttl_ms=x", data=b"v"), 400, "bad_ttl_ms"),
        (await client.delete("/cache/nowhere/k"), 404, "unknown_namespace"),
        (await client.post("/cache/default/_mget", json={"keys": ["ok", "a b"]}), 400, "bad_key"),
    ]
    for response, status, code in answers:
        assert (response.status, response.content_type) == (status, "application/problem+json")
        problem = await response.json()
        assert problem["type"] == f"tag:roleready-cache,2026:docs/api.md#error-{code}"
        assert (problem["status"], problem["error"], problem["title"]) == (
            status, code, TITLES[code])
        assert problem["detail"] and problem["message"] == problem["detail"]
    assert problem["key"] == "a b"  # the batch's extension member names the key


async def test_key_of_512_characters_is_accepted(client: TestClient) -> None:
    path = "/cache/default/" + "k" * 512
    assert (await client.put(path, data=b"v")).status == 204
    assert (await client.get(path)).status == 200


@pytest.mark.parametrize("ttl", ["abc", "0", "-5", "1.5", "300001", ""])
async def test_bad_ttl_ms_is_refused(client: TestClient, ttl: str) -> None:
    response = await client.put(f"/cache/default/k?ttl_ms={ttl}", data=b"v")
    assert response.status == 400
    assert (await response.json())["error"] == "bad_ttl_ms"
    assert (await client.get("/cache/default/k")).status == 404


async def test_body_over_the_limit_is_refused_with_413(app_client: StartClient) -> None:
    client = await app_client("", CACHE_MAX_VALUE_BYTES="10")
    assert (await client.put("/cache/default/k", data=b"x" * 10)).status == 204
    declared = await client.put("/cache/default/big", data=b"x" * 11)
    assert declared.status == 413
    assert (await declared.json())["error"] == "too_large"

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(5):
            yield b"xxxx"

    streamed = await client.put("/cache/default/big", data=chunks())
    assert streamed.status == 413
    assert (await client.get("/cache/default/big")).status == 404


@pytest.mark.parametrize(("memory_items", "pttl_calls"), [("0", 0), ("1000", 3)])
async def test_a_redis_hit_reads_the_pttl_only_for_a_memory_tier_to_fill(
    app_client: StartClient, redis_server: RedisServer, memory_items: str, pttl_calls: int,
) -> None:
    service = await ready_client(app_client, redis_server.url, CACHE_LRU_MAX_ITEMS=memory_items)
    for i in range(3):
        assert (await service.put(f"/cache/default/k{i}", data=b"v")).status == 204
    service.app[appkeys.CACHE].memory.clear()  # each GET below reads Redis
    with redis_server.client() as raw:
        raw.config_resetstat()
    for i in range(3):
        got = await service.get(f"/cache/default/k{i}")
        assert (got.status, got.headers["X-Cache"]) == (200, "hit-redis")
    with redis_server.client() as raw:
        stats = raw.info("commandstats")
    assert stats["cmdstat_get"]["calls"] == 3
    assert stats.get("cmdstat_pttl", {"calls": 0})["calls"] == pttl_calls


async def test_a_chunked_body_that_arrived_whole_is_held_to_the_limit(
    app_client: StartClient,
) -> None:
    """Sent in one write, the body is all there when the handler reads it
    (read at once, without the chunk loop): the same 413, nothing changed."""
    client = await app_client("", CACHE_MAX_VALUE_BYTES="10")
    for body, status in ((b"x" * 10, 204), (b"y" * 11, 413)):
        reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
        writer.write(b"PUT /cache/default/whole HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n"
                     % (len(body), body))
        answer = await reader.read()
        writer.close()
        await writer.wait_closed()
        assert answer.startswith(b"HTTP/1.1 %d " % status), answer[:200]
    kept = await client.get("/cache/default/whole")
    assert (kept.status, await kept.read()) == (200, b"x" * 10)


async def test_token_is_required_when_configured(app_client: StartClient) -> None:
    client = await app_client("", CACHE_API_TOKEN="tok-123")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "tok-123"}):
        response = await client.put("/cache/default/k", data=b"v", headers=headers)
        assert response.status == 401
        body = await response.text()
        assert "tok-123" not in body
        assert response.headers["WWW-Authenticate"] == "Bearer"
    good = {"Authorization": "Bearer tok-123"}
    assert (await client.get("/cache/default/k", headers=good)).status == 404
    assert (await client.put("/cache/default/k", data=b"v", headers=good)).status == 204
    assert (await client.get("/cache/default/k", headers=good)).status == 200
    # A memory hit is answered by the fast path, still behind the token.
    assert (await client.get("/cache/default/k")).status == 401
    assert (await client.get("/health")).status == 200  # health stays open


async def test_unknown_route_and_method_answer_json(client: TestClient) -> None:
    response = await client.get("/nowhere")
    assert response.status == 404
    assert (await response.json())["error"] == "not_found"
    response = await client.post("/cache/default/k", data=b"v")
    assert response.status == 405
    assert "PUT" in response.headers["Allow"]


async def test_memory_tier_evicts_least_recently_used(app_client: StartClient) -> None:
    client = await app_client("", CACHE_LRU_MAX_ITEMS="3")
    for key in "abc":
        await client.put(f"/cache/default/{key}", data=key.encode())
    assert (await client.get("/cache/default/a")).status == 200  # a is now most recent
    await client.put("/cache/default/d", data=b"d")
    assert (await client.get("/cache/default/b")).status == 404
    for key in "acd":
        assert (await client.get(f"/cache/default/{key}")).status == 200


async def test_two_instances_share_values_through_redis(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    first = await ready_client(app_client, redis_server.url)
    second = await ready_client(app_client, redis_server.url)
    await first.put("/cache/job_analysis/j-7", data=b"analysis", headers={"Content-Type": "text/plain"})
    got = await second.get("/cache/job_analysis/j-7")
    assert (got.status, got.headers["X-Cache"]) == (200, "hit-redis")
    assert got.headers["Content-Type"] == "text/plain"
    assert await got.read() == b"analysis"
    again = await second.get("/cache/job_analysis/j-7")
    assert again.headers["X-Cache"] == "hit-memory"
    await first.delete("/cache/job_analysis/j-7")
    third = await ready_client(app_client, redis_server.url)
    assert (await third.get("/cache/job_analysis/j-7")).status == 404


async def test_redis_keys_follow_the_prefix_scheme_with_ttl(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url, CACHE_KEY_PREFIX="rr")
    await client.put("/cache/ats_score/s-1?ttl_ms=60000", data=b"93")
    raw = aioredis.Redis(port=redis_server.port)
    assert await raw.exists("rr:ats_score:s-1") == 1
    assert 59_000 < await raw.pttl("rr:ats_score:s-1") <= 60_000
    await raw.aclose()


# TTL tests: the memory tier runs on a FakeClock moved by the test, Redis on
# real time, which is only ever waited for (polled), never raced against.


async def test_short_namespace_expires_in_both_tiers(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    clock = FakeClock()
    client = await ready_client(app_client, redis_server.url, clock, CACHE_BRIEF_TTL_MS="300")
    await client.put("/cache/brief/k", data=b"v")
    got = await client.get("/cache/brief/k")
    assert (got.status, got.headers["X-Cache"]) == (200, "hit-memory")
    raw = aioredis.Redis(port=redis_server.port)
    assert await raw.pttl("roleready:brief:k") <= 300
    await eventually_async(lambda: _gone(raw, "roleready:brief:k"), what="Redis expiry")
    # Memory's copy expires by itself at 300 ms (Redis's expiry may also have
    # reached it as an invalidation by now: test_coherence.py).
    clock.advance(0.3)
    assert (await client.get("/cache/brief/k")).status == 404
    await raw.aclose()


async def test_ttl_ms_shortens_the_namespace_ttl(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    clock = FakeClock()
    client = await ready_client(app_client, redis_server.url, clock)
    await client.put("/cache/default/short?ttl_ms=5000", data=b"v")
    raw = aioredis.Redis(port=redis_server.port)
    assert await raw.pttl("roleready:default:short") <= 5000  # not the namespace's 300 s
    clock.advance(4.999)
    assert (await client.get("/cache/default/short")).headers["X-Cache"] == "hit-memory"
    clock.advance(0.001)
    # Memory's copy has expired; Redis (real time) still holds it.
    assert (await client.get("/cache/default/short")).headers["X-Cache"] == "hit-redis"
    await raw.aclose()


async def test_memory_copy_never_outlives_redis_ttl(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    writer = await ready_client(app_client, redis_server.url)
    clock = FakeClock()
    reader = await ready_client(app_client, redis_server.url, clock)
    await writer.put("/cache/default/k?ttl_ms=60000", data=b"v")
    filled = await reader.get("/cache/default/k")
    assert filled.headers["X-Cache"] == "hit-redis"
    # The reader's memory copy got Redis's remaining TTL (at most 60 s), not
    # the namespace's 300 s: once Redis has expired the key, so has memory.
    entry = reader.app[appkeys.CACHE].memory.get("default", "k")
    assert entry is not None and entry.expires_at - clock.monotonic() <= 60.0
    clock.advance(60.0)
    assert (await reader.get("/cache/default/k")).headers["X-Cache"] == "hit-redis"


async def _gone(raw: aioredis.Redis, name: str) -> bool:
    return await raw.exists(name) == 0


@pytest.mark.parametrize("content_type", ["text/plain; name=\u20ac", "text/" + "x" * 300])
async def test_bad_content_type_is_refused_and_stores_nothing(
    client: TestClient, content_type: str
) -> None:
    response = await client.put(
        "/cache/default/ct", data=b"v", headers={"Content-Type": content_type}
    )
    assert response.status == 400
    assert (await response.json())["error"] == "bad_content_type"
    assert (await client.get("/cache/default/ct")).status == 404


async def test_get_handler_answers_hits_without_its_fast_path(client: TestClient) -> None:
    """The fast path only saves work: the handler alone gives the same answers."""
    stored = await client.put("/cache/default/direct", data=b"v", headers={"Content-Type": "text/plain"})
    assert stored.status == 204
    for key, status in (("direct", 200), ("absent", 404), ("bad key!", 400)):
        request = make_mocked_request(
            "GET", "/", match_info={"namespace": "default", "key": key}, app=client.app
        )
        response = await cache_api.get_entry(request)
        assert response.status == status, key
    hit = await cache_api.get_entry(make_mocked_request(
        "GET", "/", match_info={"namespace": "default", "key": "direct"}, app=client.app
    ))
    assert hit.headers["X-Cache"] == "hit-memory" and hit.body == b"v"


async def test_every_value_is_answered_with_its_own_head_past_the_heads_kept(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hits' heads are kept per stored value, a bounded number of them:
    past the bound they are made again, never mixed up (memory hits here,
    Redis hits with Redis: the first GET after a PUT may be either)."""
    monkeypatch.setattr(hits, "MAX_HEADS", 3)
    monkeypatch.setattr(hits, "_heads", {})  # what other tests' hits left is not this test's
    for round_ in range(2):
        values = {}
        for i in range(7):
            value = f"value {i} of round {round_}".encode()
            stored = await client.put(f"/cache/default/h{i}", data=value,
                                      headers={"X-Cache-Tags": f"t{i}"})
            assert stored.status == 204
            values[i] = value
        for _ in range(2):
            for i, value in values.items():
                got = await client.get(f"/cache/default/h{i}")
                assert (got.status, await got.read()) == (200, value)
                # A tag record's first write may drop the writer's memory copy once.
                assert got.headers["X-Cache"] in ("hit-memory", "hit-redis")
                assert got.headers["X-Cache-Tags"] == f"t{i}"
                assert got.headers["Content-Length"] == str(len(value))
    assert all(len(heads) <= 3 for heads in hits._heads.values())


async def test_many_content_types_are_each_served_with_their_own(client: TestClient) -> None:
    """Hit headers are kept per content type, a bounded number of them."""
    count = hits.MAX_HEADER_TEMPLATES + 5
    for i in range(count):
        stored = await client.put(f"/cache/default/t{i}", data=b"v",
                                  headers={"Content-Type": f"application/x-t{i}"})
        assert stored.status == 204
    for _ in range(2):
        for i in range(count):
            got = await client.get(f"/cache/default/t{i}")
            assert got.headers["Content-Type"] == f"application/x-t{i}"
            assert got.headers["X-Cache"] == "hit-memory"
