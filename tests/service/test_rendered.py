"""A rendered hit writes, byte for byte on a socket, what aiohttp's own
serializer writes for the same header lines: in HTTP/1.0 and 1.1, with and
without keep-alive, for GET and HEAD, degraded or not."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer

from service.http import rendered
from service.http.rendered import RenderedHit, RenderedStored

LINES = (
    ("Content-Type", "text/html"), ("X-Cache", "hit-memory"), ("Server", "roleready-cache"),
    ("Content-Disposition", "attachment"), ("ETag", '"00112233aabbccdd"'),
    ("Cache-Control", "max-age=60"), ("X-Cache-Tags", "candidate:42, job:7"),
    ("Content-Length", "5"),
)
VALUE = b"<p>x\n"


class Unbuffered(RenderedHit):
    buffered_writes = False


def _hit(cls: type[RenderedHit], request: web.Request) -> RenderedHit:
    age = request.query.get("age")
    return cls(VALUE, rendered.head(LINES, 0.0), age, "rid-1", "degraded" in request.query)


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    async with _three_ways("GET", lambda request: _hit(RenderedHit, request),
                           lambda request: _hit(Unbuffered, request),
                           lambda request: web.Response(
                               body=VALUE, headers=_hit(RenderedHit, request).headers)) as started:
        yield started


@contextlib.asynccontextmanager
async def _three_ways(method: str, *answers: Callable[[web.Request], web.Response],
                      ) -> AsyncIterator[TestServer]:
    """A server answering `method` on /fast, /unbuffered and /plain with the
    three `answers`: rendered, rendered through aiohttp's serializer, and
    aiohttp's own Response of the same lines."""
    app = web.Application()
    for path, answer in zip(("/fast", "/unbuffered", "/plain"), answers, strict=True):
        async def handler(request: web.Request, answer: Any = answer) -> web.StreamResponse:
            return answer(request)
        if method == "GET":
            app.router.add_get(path, handler)  # and HEAD
        else:
            app.router.add_route(method, path, handler)
    started = TestServer(app)
    await started.start_server()
    try:
        yield started
    finally:
        await started.close()


async def _exchange(server: BaseTestServer, head: bytes) -> bytes:
    """Everything the server sends for `head` (a request), until it closes."""
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(head)
    answer = b""
    while chunk := await asyncio.wait_for(reader.read(65536), 5):
        answer += chunk
    writer.close()
    return answer


def _kept_alive(version: str, connection: str) -> bool:
    return version == "1.1" and connection != "close" or connection == "keep-alive"


async def _three_ways_answers(server: BaseTestServer, method: str, query: str, version: str,
                              connection: str, headers: str = "") -> list[bytes]:
    """What /fast, /unbuffered and /plain each send for one request (with
    `headers`), followed on a kept-alive connection by a second one that
    closes it."""
    answers = []
    for path in ("/fast", "/unbuffered", "/plain"):
        request = f"{method} {path}?{query} HTTP/{version}\r\nHost: x\r\n{headers}"
        if connection:
            request += f"Connection: {connection}\r\n"
        if _kept_alive(version, connection):
            request += f"\r\n{method} /plain HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n"
        answers.append(await _exchange(server, (request + "\r\n").encode()))
    return answers


def _parsed(answer: bytes, method: str) -> tuple[bytes, list[bytes], bytes, bytes]:
    """The first answer's status line, its header lines but Date (sorted),
    its body, and the start of what follows it."""
    head, _, rest = answer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    dates = [line for line in lines if line.startswith(b"Date: ")]
    assert len(dates) == 1, lines  # one Date, its second may differ between answers
    size = len(VALUE) if method == "GET" else 0
    return (status, sorted(line for line in lines if not line.startswith(b"Date: ")),
            rest[:size], rest[size:size + 15])


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize(("version", "connection"), [
    ("1.1", ""), ("1.1", "close"), ("1.0", ""), ("1.0", "keep-alive"),
])
@pytest.mark.parametrize("query", ["age=7", "age=0&degraded", ""])
async def test_a_rendered_hit_is_what_aiohttp_would_write(
    server: TestServer, method: str, version: str, connection: str, query: str
) -> None:
    answers = await _three_ways_answers(server, method, query, version, connection)
    fast, unbuffered, plain = (_parsed(answer, method) for answer in answers)
    assert fast == unbuffered == plain
    status, lines, body, after = fast
    assert status == f"HTTP/{version} 200 OK".encode()
    assert (b"Age: 7" in lines) == (query == "age=7")
    assert (b"X-Cache-Degraded: redis-unavailable" in lines) == ("degraded" in query)
    assert b"X-Request-ID: rid-1" in lines and b"Content-Length: 5" in lines
    assert body == (VALUE if method == "GET" else b"")
    kept_alive = _kept_alive(version, connection)
    assert after == (b"HTTP/1.1 200 OK" if kept_alive else b"")
    assert (b"Connection: close" in lines) == (version == "1.1" and connection == "close")
    assert (b"Connection: keep-alive" in lines) == (connection == "keep-alive")


def test_its_headers_show_every_line_of_the_answer() -> None:
    hit = RenderedHit(VALUE, rendered.head(LINES, 0.0), "3", "rid-2", True)
    headers = hit.headers
    assert headers["X-Cache-Tags"] == "candidate:42, job:7"
    assert (headers["Age"], headers["X-Request-ID"]) == ("3", "rid-2")
    assert headers["X-Cache-Degraded"] == "redis-unavailable"


STORED = (("X-Cache-Stored", "redis"), ("Server", "roleready-cache"),
          ("X-Content-Type-Options", "nosniff"))


class UnbufferedStored(RenderedStored):
    buffered_writes = False


@pytest.fixture
async def writes() -> AsyncIterator[TestServer]:
    def stored(cls: type[RenderedStored], request: web.Request) -> RenderedStored:
        return cls(rendered.head(STORED, None), "rid-3", "degraded" in request.query)

    async with _three_ways("PUT", lambda request: stored(RenderedStored, request),
                           lambda request: stored(UnbufferedStored, request),
                           lambda request: web.Response(
                               status=204, headers=stored(RenderedStored, request).headers),
                           ) as started:
        yield started


@pytest.mark.parametrize(("version", "connection"), [
    ("1.1", ""), ("1.1", "close"), ("1.0", ""), ("1.0", "keep-alive"),
])
@pytest.mark.parametrize("query", ["", "degraded"])
async def test_a_rendered_204_is_what_aiohttp_would_write(
    writes: TestServer, version: str, connection: str, query: str
) -> None:
    answers = await _three_ways_answers(writes, "PUT", query, version, connection,
                                        "Content-Length: 0\r\n")
    fast, unbuffered, plain = (_parsed(answer, "HEAD") for answer in answers)  # no body
    kept_alive = _kept_alive(version, connection)
    assert fast == unbuffered == plain
    status, lines, _, after = fast
    assert status == f"HTTP/{version} 204 No Content".encode()
    assert b"X-Cache-Stored: redis" in lines and b"X-Request-ID: rid-3" in lines
    assert not [line for line in lines if line.startswith(b"Content-Length")]
    assert (b"X-Cache-Degraded: redis-unavailable" in lines) == (query == "degraded")
    assert after == (b"HTTP/1.1 204 No" if kept_alive else b"")


async def test_an_app_with_a_prepare_hook_gets_aiohttp_s_way() -> None:
    """aiohttp calls an app's on_response_prepare from its own _start: a
    rendered answer leaves the hook nothing to miss."""
    seen: list[int] = []

    async def hook(request: web.Request, response: web.StreamResponse) -> None:
        seen.append(response.status)
        response.headers["X-Hooked"] = "yes"

    async def fast(request: web.Request) -> web.StreamResponse:
        return _hit(RenderedHit, request)

    app = web.Application()
    app.on_response_prepare.append(hook)
    app.router.add_get("/fast", fast)
    async with TestServer(app) as started:
        answer = await _exchange(started, b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert seen == [200]
    assert b"\r\nX-Hooked: yes\r\n" in answer and answer.endswith(b"\r\n\r\n" + VALUE)
