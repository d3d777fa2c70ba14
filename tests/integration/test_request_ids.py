"""Request ids and the Server header on every answer (the memory-hit fast path
included), the access log's line carrying the id, and HTTP_MAX_INFLIGHT's
503 in process (tests/integration/test_slow_clients.py has real sockets)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from service.http.answer_headers import SERVER
from service.logs import JsonFormatter, RequestIdFilter

ROUTES = [
    ("GET", "/cache/default/hot"),  # a memory hit: the fast path
    ("GET", "/cache/default/cold"),  # a miss: the handler
    ("PUT", "/cache/default/new"),
    ("GET", "/cache/nowhere/k"),  # 404 unknown namespace
    ("GET", "/health"),
    ("GET", "/metrics"),
    ("POST", "/health"),  # 405 from the fallback route
]


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("roleready.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_sane_id_is_echoed_and_no_versions_are_announced(app_client, method, path) -> None:  # type: ignore[no-untyped-def]
    client = await app_client()
    assert (await client.put("/cache/default/hot", data=b"v")).status == 204
    given = "Ab9._-:" + "x" * 121  # 128 characters, every allowed kind
    response = await client.request(method, path, headers={"X-Request-ID": given})
    assert response.headers["X-Request-ID"] == given
    assert response.headers["Server"] == SERVER
    assert "aiohttp" not in response.headers["Server"].lower()


@pytest.mark.parametrize(
    "given", [None, "", "x" * 129, "has space", "semi;colon", "new\\nline", "ünï"]
)
async def test_a_missing_or_insane_id_is_replaced_by_a_unique_one(app_client, given) -> None:  # type: ignore[no-untyped-def]
    client = await app_client()
    await client.put("/cache/default/hot", data=b"v")
    headers = {} if given is None else {"X-Request-ID": given}
    ids = [
        (await client.get(path, headers=headers)).headers["X-Request-ID"]
        for path in ("/cache/default/hot", "/cache/default/cold", "/health")
    ]
    assert len(set(ids)) == 3 and given not in ids
    assert all(0 < len(made) <= 128 for made in ids)


async def test_the_access_log_carries_the_request_id(app_client, access_lines) -> None:  # type: ignore[no-untyped-def]
    client = await app_client(ACCESS_LOG="true")
    await client.put("/cache/default/hot", data=b"v", headers={"X-Request-ID": "put-1"})
    await client.get("/cache/default/hot", headers={"X-Request-ID": "hit-1"})
    await client.get("/cache/default/cold", headers={"X-Request-ID": "miss-1"})
    lines = [json.loads(line) for line in access_lines.getvalue().splitlines()]
    assert [(line["request_id"], line["status"], line["x_cache"]) for line in lines] == [
        ("put-1", 204, None), ("hit-1", 200, "hit-memory"), ("miss-1", 404, "miss"),
    ]
    assert lines[1]["method"] == "GET" and lines[1]["path"] == "/cache/default/hot"
    assert lines[1]["logger"] == "roleready.access" and lines[1]["duration_ms"] >= 0


async def test_no_access_log_by_default(app_client, access_lines) -> None:  # type: ignore[no-untyped-def]
    client = await app_client()
    await client.get("/cache/default/cold")
    assert access_lines.getvalue() == ""


async def test_beyond_the_inflight_limit_cache_routes_answer_503_and_health_does_not(app_client) -> None:  # type: ignore[no-untyped-def]
    client = await app_client(HTTP_MAX_INFLIGHT="1", HTTP_BODY_TIMEOUT_MS="5000")
    await client.put("/cache/default/hot", data=b"v")
    body: asyncio.Queue[bytes] = asyncio.Queue()

    async def slow_body():  # type: ignore[no-untyped-def]
        while chunk := await body.get():
            yield chunk

    holder = asyncio.ensure_future(client.put("/cache/default/slow", data=slow_body()))
    await body.put(b"a")
    for _ in range(100):  # until the PUT's handler is waiting for the rest
        refused = await client.get("/cache/default/cold")
        if refused.status == 503:
            break
        await asyncio.sleep(0.01)
    assert refused.status == 503 and refused.headers["Retry-After"] == "1"
    problem = await refused.json()
    assert refused.content_type == "application/problem+json"
    assert (problem["error"], problem["status"], problem["title"]) == ("overloaded", 503, "Overloaded")
    assert (await client.get("/health")).status == 200
    metrics = await client.get("/metrics")
    assert metrics.status == 200
    assert "roleready_http_overloaded_total 1.0" in (await metrics.text()).splitlines()
    hit = await client.get("/cache/default/hot")  # the synchronous fast path is not refused
    assert hit.status == 200 and hit.headers["X-Cache"] == "hit-memory"
    await body.put(b"")
    assert (await holder).status == 204
    assert (await client.get("/cache/default/cold")).status == 404
