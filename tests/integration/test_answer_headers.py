"""Answers that cannot be turned against a browser: every answer carries
nosniff and a sandbox CSP (hits from memory on the fast path and from
Redis, misses, errors, 401, 404 of no route, health, metrics, batches), and
a stored active type (HTML, SVG, XML, JavaScript) comes back as stored, as
an attachment."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.http.answer_headers import is_active
from tests.support.waiting import ready_client

StartClient = Callable[..., Awaitable[TestClient]]
TOKEN = "headers-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCRIPT = b"<script>fetch('/cache/default/secret')</script>"
ACTIVE = ["text/html", "text/html; charset=utf-8", "TEXT/HTML", "image/svg+xml", "text/xml",
          "application/xml", "application/xhtml+xml", "text/javascript",
          "application/javascript", "application/rss+xml"]
PASSIVE = ["application/json", "text/plain", "image/png", "application/octet-stream"]


def _hardened(response: ClientResponse) -> None:
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff", (response.url, headers)
    policy = headers["Content-Security-Policy"]
    assert "sandbox" in policy.split("; ") and "allow-scripts" not in policy


async def _every_kind_of_answer(client: TestClient) -> None:
    answers = [
        await client.put("/cache/default/k", data=b"v", headers=AUTH),
        await client.get("/cache/default/k", headers=AUTH),  # memory hit: the fast path
        await client.head("/cache/default/k", headers=AUTH),
        await client.get("/cache/default/k?lease=1", headers=AUTH),  # the handler
        await client.get("/cache/default/missing", headers=AUTH),
        await client.get("/cache/default/k"),  # 401
        await client.get("/cache/default/bad key!", headers=AUTH),
        await client.post("/cache/default/_mget", json={"keys": ["k"]}, headers=AUTH),
        await client.get("/nowhere"),
        await client.post("/health"),
        await client.get("/health"),
        await client.get("/health/detailed"),
        await client.get("/metrics"),
        await client.get("/api/status"),
    ]
    etag = answers[1].headers["ETag"]
    answers.append(await client.get("/cache/default/k", headers={**AUTH, "If-None-Match": etag}))
    assert answers[-1].status == 304
    for answer in answers:
        _hardened(answer)


async def test_every_answer_is_hardened_memory_only(app_client: StartClient) -> None:
    await _every_kind_of_answer(await app_client("", CACHE_API_TOKEN=TOKEN))


async def test_every_answer_is_hardened_with_redis(app_client: StartClient,
                                                   redis_server: RedisServer) -> None:
    client = await ready_client(app_client, redis_server.url, CACHE_API_TOKEN=TOKEN)
    await _every_kind_of_answer(client)
    assert (await client.put("/cache/default/r", data=SCRIPT, headers={
        **AUTH, "Content-Type": "text/html"})).status == 204
    client.app[appkeys.CACHE].memory.clear()
    hit = await client.get("/cache/default/r", headers=AUTH)
    assert hit.headers["X-Cache"] == "hit-redis"
    assert hit.headers["Content-Disposition"] == "attachment"
    _hardened(hit)


@pytest.mark.parametrize("content_type", ACTIVE)
async def test_an_active_type_comes_back_as_stored_and_an_attachment(
    app_client: StartClient, content_type: str
) -> None:
    client = await app_client("")
    assert (await client.put("/cache/default/page", data=SCRIPT,
                             headers={"Content-Type": content_type})).status == 204
    for _ in range(2):  # the first from the handler's template, then the cached template
        hit = await client.get("/cache/default/page")
        assert hit.status == 200 and await hit.read() == SCRIPT
        assert hit.headers["Content-Type"] == content_type
        assert hit.headers["Content-Disposition"] == "attachment"
        _hardened(hit)


@pytest.mark.parametrize("content_type", PASSIVE)
async def test_a_passive_type_is_shown_inline(app_client: StartClient,
                                              content_type: str) -> None:
    client = await app_client("")
    await client.put("/cache/default/data", data=b"x", headers={"Content-Type": content_type})
    hit = await client.get("/cache/default/data")
    assert "Content-Disposition" not in hit.headers and not is_active(content_type)
    _hardened(hit)
