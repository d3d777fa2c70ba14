"""A hand-written corpus of hostile requests, sent over raw sockets.

aiohttp's client (and urllib) refuse to send most of these: unicode digits
in a query, control characters and invalid percent-encoding in a path,
bytes that are not UTF-8 in a header, a body on a GET, a body shorter than
its Content-Length. Each request is the exact bytes written to the socket;
`send` writes them, half-closes, and reads the whole answer.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

NAMESPACE = "default"
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "FOO")
ROUTES = (
    "/cache/default/k", "/cache/default/k/lease", "/cache/default/_mget",
    "/cache/default/_mset", "/cache/default/_mdelete", "/cache/default",
    "/cache/default/_purge/x", "/cache/nope/k", "/health", "/health/ready",
    "/health/detailed", "/health/events", "/api/status", "/metrics", "/openapi.json",
    "/", "/nowhere",
)
# A path whose decoded form starts a log line of its own, if unescaped.
FORGED = "FORGED"
FORGED_PATH = f"/cache/default/x%0a{FORGED}%20ERROR%0d%0a{FORGED}"
# The end of a body that stops short of its Content-Length (see `send`).
TRUNCATED = b'"truncated'
NUMBERS = ("%C2%B2", "%D9%A3", "%EF%BC%91", "1_0", "+1", "-1", " 1", "1e3", "0x10",
           "9" * 40, "9" * 5000, "", "%00", "1%00", "1%0a")


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: the connection closed without an answer
    head: bytes


def request(method: str, target: str, headers: dict[str, bytes] | None = None,
            body: bytes = b"", *, length: int | None = None, token: str | None = None) -> bytes:
    """The bytes of one HTTP/1.1 request (`length` overrides Content-Length)."""
    lines = [f"{method} {target} HTTP/1.1".encode("utf-8", "surrogateescape"),
             b"Host: 127.0.0.1", b"Connection: close"]
    if token is not None:
        lines.append(b"Authorization: Bearer " + token.encode())
    for name, value in (headers or {}).items():
        lines.append(name.encode() + b": " + value)
    if body or length is not None:
        lines.append(b"Content-Length: " + str(len(body) if length is None else length).encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def send(port: int, raw: bytes, timeout: float = 5.0) -> Answer:
    """Write `raw` and read until the service closes. A request whose name
    says "truncated" is half-closed after it: its body never completes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
        try:
            conn.sendall(raw)
            if raw.endswith(TRUNCATED):
                conn.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused mid-request: its answer, if any, is still there to read
        chunks = []
        try:
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:
            pass
    return _answer(b"".join(chunks))


async def exchange(port: int, raw: bytes) -> Answer:
    """`send` for a test whose service runs on its own event loop."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        if raw.endswith(TRUNCATED):
            writer.write_eof()
        data = await reader.read()
    finally:
        writer.close()
    return _answer(data)


def _answer(data: bytes) -> Answer:
    head = data.split(b"\r\n\r\n", 1)[0]
    if not head.startswith(b"HTTP/1."):
        return Answer(None, head)
    return Answer(int(head.split(b" ", 2)[1]), head)


def _deep(depth: int) -> bytes:
    return b'{"keys": ' + b"[" * depth + b"]" * depth + b"}"


def bodies() -> Iterator[tuple[str, bytes]]:
    """Batch bodies meant to hurt a parser or the checks after it."""
    yield "deep", _deep(5000)
    yield "deep-object", b'{"entries": ' + b'{"a":' * 3000 + b"1" + b"}" * 3000 + b"}"
    yield "wide", b'{"keys": [' + b",".join([b"0"] * 200_000) + b"]}"
    yield "huge-array", b'{"keys": [' + b",".join([b'"k"'] * 100_000) + b"]}"
    yield "duplicate-keys", b'{"keys": ["a"], "keys": [1, 2], "entries": {}, "entries": 5}'
    yield "dup-entries", b'{"entries": {"a": {"value": "x"}, "a": {"value": 5}}}'
    yield "not-json", b"\xff\xfe{keys"
    yield "nan", b'{"entries": {"a": {"value": "x", "ttl_ms": NaN}}}'
    yield "big-number", b'{"entries": {"a": {"value": "x", "ttl_ms": 1' + b"0" * 400 + b"}}}"
    yield "float-ttl", b'{"entries": {"a": {"value": "x", "ttl_ms": 1e308}}}'
    yield "neg-ttl", b'{"entries": {"a": {"value": "x", "ttl_ms": -1.5}}}'
    yield "bad-b64", b'{"entries": {"a": {"value": "%%%", "encoding": "base64"}}}'
    yield "bad-encoding", b'{"entries": {"a": {"value": "x", "encoding": ["utf-8"]}}}'
    yield "ctype-list", b'{"entries": {"a": {"value": "x", "contentType": ["a"]}}}'
    yield "surrogate", b'{"keys": ["\\ud800"]}'
    yield "nul-key", b'{"keys": ["a\\u0000b"]}'
    yield "scalar", b"5"
    yield "empty", b""
    yield "null", b"null"
    yield "keys-object", b'{"keys": {"a": 1}}'
    yield "long-key", orjson.dumps({"keys": ["k" * 100_000]})


def corpus(token: str) -> Iterator[tuple[str, bytes]]:
    """(name, raw request) pairs: every method on every route, then the nasty ones."""
    for route in ROUTES:
        for method in METHODS:
            yield f"{method} {route}", request(method, route, token=token)
    for number in NUMBERS:
        yield f"limit={number}", request("GET", f"/health/events?limit={number}")
        yield f"wait_ms={number}", request(
            "GET", f"/cache/default/k?lease=1&wait_ms={number}", token=token)
        yield f"ttl_ms={number}", request(
            "PUT", f"/cache/default/k?ttl_ms={number}", body=b"v", token=token)
        yield f"lease={number}", request("GET", f"/cache/default/k?lease={number}", token=token)
    for path in ("/cache/default/a%00b", "/cache/default/a%0ab", FORGED_PATH, "/cache/default/a%0d%0aX: y",
                 "/cache/default/%ff%fe", "/cache/default/%zz", "/cache/default/%",
                 "/cache/%ff/k", "/health/%ff", "/cache/default/" + "k" * 20_000,
                 "/cache/default/a\udcffb", "/cache/default/k?%ff=%fe", "/cache/default/k?ttl_ms",
                 "/cache/default/k?lease=1&lease=0", "/cache/default/../../etc/passwd",
                 "//cache//default//k", "/cache/default/k#frag", "*", "http://evil/cache/default/k"):
        for method in ("GET", "PUT", "DELETE", "POST"):
            yield f"{method} {path!r}", request(method, path, body=b"v", token=token)
    for name, value in (("Authorization", b"Bearer \xff\xfe"), ("Authorization", b"\xc3\xa9"),
                        ("Authorization", b"Bearer " + b"t" * 9000),
                        ("Content-Type", b"text/\xff"), ("Content-Type", b"a" * 300),
                        ("X-Request-ID", b"\xff" * 10), ("X-Cache-Lease", b"\xe2\x82\xac"),
                        ("If-None-Match", b'"\xff"'), ("X-Cache-Tags", b"\xff"),
                        ("Content-Length", b"\xd9\xa3"), ("Content-Length", b"-1"),
                        ("Transfer-Encoding", b"chunked, identity"), ("X-Big", b"x" * 70_000)):
        for method, path in (("GET", "/cache/default/k"), ("PUT", "/cache/default/k"),
                             ("GET", "/health/detailed")):
            header_line = {name: value}
            if name != "Authorization":
                yield f"{method} {path} {name}", request(method, path, header_line, b"v",
                                                         token=token)
            else:
                yield f"{method} {path} {name}", request(method, path, header_line, b"v")
    for route in ("/cache/default/_mget", "/cache/default/_mset", "/cache/default/_mdelete"):
        for name, body in bodies():
            yield f"{route} {name}", request("POST", route, {"Content-Type": b"application/json"},
                                             body, token=token)
        yield f"{route} text/plain", request("POST", route, {"Content-Type": b"text/plain"},
                                             b'{"keys": ["a"]}', token=token)
        yield f"{route} truncated", request("POST", route, body=b'{"keys": ["a", "truncated', length=400,
                                            token=token)
    yield "GET with body", request("GET", "/cache/default/k", body=b"x" * 1000, token=token)
    yield "PUT truncated", request("PUT", "/cache/default/k", body=TRUNCATED, length=1000,
                                     token=token)
    yield "PUT html", request("PUT", "/cache/default/h", {"Content-Type": b"text/html"},
                              b"<script>alert(1)</script>", token=token)
