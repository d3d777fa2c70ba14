"""Answers aiohttp gives before any route runs (service/http/early_errors.py),
over raw sockets: requests its parser refuses (a bad request line or method,
bytes HTTP forbids in a header, an overlong line, TLS on the plain port, ...)
and an Expect other than 100-continue get a problem+json body with the
Server, nosniff and CSP headers of every other answer, against the service
process (so do 404s and 405s of paths holding a line break); a handler
failure past the request layer gets a 500 `internal` alike, through the
service's runner in process."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

from scripts.harness.service_process import ServiceProcess, http_get
from service.http.answer_headers import POLICY, SERVER
from service.http.responses import PROBLEM_JSON, PROBLEM_TYPE_PREFIX
from service.server import ServiceRunner

PUT = b"PUT /cache/default/k HTTP/1.1\r\nHost: t\r\n"
# (name, raw request, status, error code)
EARLY = [
    ("request line", b"GARBAGE\r\n\r\n", 400, "bad_request"),
    ("method byte", b"G\x80T /health HTTP/1.1\r\nHost: t\r\n\r\n", 400, "bad_request"),
    ("header value byte", b"GET /health HTTP/1.1\r\nHost: t\r\nX-A: a\x01b\r\n\r\n", 400,
     "bad_request"),
    ("header name byte", b"GET /health HTTP/1.1\r\nHost: t\r\nX\xff: a\r\n\r\n", 400,
     "bad_request"),
    ("long request line", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n", 400, "bad_request"),
    ("long header", b"GET /health HTTP/1.1\r\nX-Big: " + b"x" * 70_000 + b"\r\n\r\n", 400,
     "bad_request"),
    ("many headers", b"GET /health HTTP/1.1\r\n" + b"".join(
        b"X-%d: v\r\n" % n for n in range(200)) + b"\r\n", 400, "bad_request"),
    ("version", b"GET /health HTTP/9.9\r\nHost: t\r\n\r\n", 400, "bad_request"),
    ("content length", PUT + b"Content-Length: 1x\r\n\r\nv", 400, "bad_request"),
    ("two lengths", PUT + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nv", 400,
     "bad_request"),
    ("transfer coding", PUT + b"Transfer-Encoding: chunked, identity\r\n\r\n1\r\nv\r\n0\r\n\r\n",
     400, "bad_request"),
    ("tls hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, 400,
     "bad_request"),
    ("expect", PUT + b"Expect: to-be-stored\r\nContent-Length: 1\r\nConnection: close\r\n\r\nv",
     417, "expectation_failed"),
    # A line break in the path once escaped the fallback route's pattern, and
    # the router answered in plain text.
    ("405 with %0a", b"POST /cache/default/a%0ab HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
     405, "method_not_allowed"),
    ("404 with %0a", b"GET /nowhere%0a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
     404, "not_found"),
]


def _exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `raw`, read until the service closes; the status, headers (names
    in lower case) and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
    return _parsed(data)


def _parsed(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split(" ", 2)[1]), headers, body


def _faults(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> list[str]:
    got, headers, body = answer
    faults = [] if got == status else [f"status {got}"]
    for name, value in (("server", SERVER), ("x-content-type-options", "nosniff"),
                        ("content-security-policy", POLICY), ("content-type", PROBLEM_JSON)):
        if headers.get(name) != value:
            faults.append(f"{name}: {headers.get(name)!r}")
    try:
        problem = json.loads(body)
    except ValueError:
        return [*faults, f"body {body[:100]!r}"]
    if (problem.get("error"), problem.get("status"), problem.get("type")) != (
            code, status, PROBLEM_TYPE_PREFIX + code):
        faults.append(f"problem {problem}")
    return faults


def test_answers_before_any_route_carry_the_headers_of_every_answer(
    service_process: Callable[..., ServiceProcess],
) -> None:
    service = service_process(REDIS_URL="")
    faults = {}
    for name, raw, status, code in EARLY:
        found = _faults(_exchange(service.port, raw), status, code)
        if found:
            faults[name] = found
    assert not faults
    ok = _exchange(service.port, b"GET /health HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert ok[0] == 200 and ok[1]["server"] == SERVER
    continued = _exchange(service.port, PUT + b"Expect: 100-continue\r\nContent-Length: 1\r\n"
                          b"Connection: close\r\n\r\nv")
    assert continued[0] == 100 and b"HTTP/1.1 204 " in continued[2]  # 100, then the answer
    assert http_get(service.base_url + "/cache/default/k")[1] == b"v"
    log = service.log()
    assert "Traceback" not in log and "Error handling request" not in log


async def test_a_refused_caller_gets_its_answer_instead_of_a_100(
    app_client: Callable[..., Awaitable[TestClient]],
) -> None:
    """Expect: 100-continue asks leave to send the body: a caller the route
    refuses gets its 401 at once (it sends no body), one it takes gets the
    100, then the answer."""
    client = await app_client("", CACHE_API_TOKEN="tok-9")
    cases = ((b"", b"HTTP/1.1 401 "), (b"Authorization: Bearer wrong\r\n", b"HTTP/1.1 401 "),
             (b"Authorization: Bearer tok-9\r\n", b"HTTP/1.1 100 Continue\r\n\r\n"))
    for authorization, first in cases:
        reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
        writer.write(PUT + authorization + b"Expect: 100-continue\r\nContent-Length: 1\r\n"
                     b"Connection: close\r\n\r\n")  # no body yet: it waits for the 100
        answer = await asyncio.wait_for(reader.read(65536), 5)
        assert answer.startswith(first), answer[:80]
        if first.startswith(b"HTTP/1.1 100"):
            writer.write(b"v")
            answer += await asyncio.wait_for(reader.read(), 5)
            assert b"HTTP/1.1 204 " in answer
        writer.close()
        await writer.wait_closed()
    stored = await client.get("/cache/default/k", headers={"Authorization": "Bearer tok-9"})
    assert (stored.status, await stored.read()) == (200, b"v")


async def test_a_failure_past_the_request_layer_is_a_problem_too() -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("a detail no caller may see")

    app = web.Application()
    app.router.add_get("/", broken)  # no request layer around it
    runner = ServiceRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        answer = await asyncio.to_thread(_exchange, port, b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    finally:
        await runner.cleanup()
    assert _faults(answer, 500, "internal") == []
    assert b"a detail" not in answer[2]
