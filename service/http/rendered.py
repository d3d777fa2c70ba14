"""Answers whose constant header lines are serialized once: a hit's 200 per
stored value, a write's 204 per X-Cache-Stored value.

    a stored value (its PUT's version) ─► its Head, made on its first hit:
        Content-Type, X-Cache, Cache-Status, Server, nosniff, CSP,
        [Content-Disposition], ETag, Cache-Control, [X-Cache-Tags] and
        Content-Length as (name, value) pairs, and serialized into one block
    each hit ─► RenderedHit(value, head, Age, X-Request-ID, degraded?)
        ─► its header section: the status line, the block, then Age, Date,
           X-Request-ID, [X-Cache-Degraded], [Connection] ─► aiohttp's
           writer, where aiohttp's serializer would have put the same lines
    each write ─► RenderedStored(the head of "redis" or "memory": X-Cache-
        Stored, Server, nosniff, CSP) ─► 204 with Date, X-Request-ID, ...

Why: aiohttp serializes every header line of every answer in C, character by
character (~1k instructions a line under callgrind), and a hit carries ten
lines the bare handler does not send. Nine of them are the same for every
answer of one value. Writing them once per value, and per answer only the
lines that change, took a memory hit from ~190k to ~181k instructions
(`python -m scripts.benchmark.instructions memory`; the bare aiohttp
handler: ~176k).

What it relies on in aiohttp: `Response.prepare` ends in `_start`, which
decides keep-alive and the writer's length and leaves the serialized header
section in the writer's `_headers_buf` for `write_eof` to send with the
body. `_start` here does the same for the cases it serves (a 200 of a
known length or a 204, no compression, no cookies, no on_response_prepare
hook: the service's apps have none, and the front door's answers reach no
route). Where the writer is not aiohttp's
buffering StreamWriter, or the HTTP version is neither 1.0 nor 1.1, it hands
the same lines to aiohttp's own serializer instead. tests/service/
test_rendered.py holds both against each other, byte for byte, on a socket.
"""

from __future__ import annotations

from typing import NamedTuple

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import HttpVersion, HttpVersion10, HttpVersion11
from multidict import CIMultiDict

from service.http.entries import REDIS_UNAVAILABLE, X_CACHE_DEGRADED
from service.http.request_ids import X_REQUEST_ID

Lines = tuple[tuple[str, str], ...]
# As many heads as values answered recently; beyond it, they are made again.
MAX_HEADS = 4096
_DEGRADED = f"{X_CACHE_DEGRADED}: {REDIS_UNAVAILABLE}\r\n".encode()
_CLOSE = b"Connection: close\r\n"  # HTTP/1.1 without keep-alive
_KEEP_ALIVE = b"Connection: keep-alive\r\n"  # HTTP/1.0 with it


def _status_lines(status: int, reason: str) -> dict[HttpVersion, bytes]:
    return {version: f"HTTP/{version.major}.{version.minor} {status} {reason}\r\n".encode()
            for version in (HttpVersion11, HttpVersion10)}


def _hooked(request: web.BaseRequest) -> bool:
    """Would aiohttp call an app's on_response_prepare for this answer? (The
    service's apps have none: an app built with one gets aiohttp's way.)"""
    match = getattr(request, "_match_info", None)  # a web.Request's; None: no route
    return match is not None and any(app.on_response_prepare for app in match.apps)


class Head(NamedTuple):
    """The header lines every 200 of one value carries, them serialized, and
    when the value was stored (epoch seconds; None: no Age to give)."""

    lines: Lines
    block: bytes
    stored_at_s: float | None


def head(lines: Lines, stored_at_s: float | None) -> Head:
    """`lines` and their serialization (names and values are ASCII without
    CR or LF: constants, a stored content type, tags, numbers)."""
    block = "".join(f"{name}: {value}\r\n" for name, value in lines).encode()
    return Head(lines, block, stored_at_s)


class Rendered(web.Response):
    """An answer of `status` whose constant lines are `head`'s, serialized
    once; the request layer sets `request_id` when the handler made it
    without one. `headers` shows every line (an access log line reads it)."""

    # False: always through aiohttp's serializer (the tests compare both).
    buffered_writes = True
    _STATUS = _status_lines(200, "OK")

    def __init__(self, value: bytes | None, head: Head, request_id: str, degraded: bool,
                 status: int = 200) -> None:
        super().__init__(body=value, status=status)
        self._head = head
        self.request_id = request_id
        self._degraded = degraded

    def _answer_lines(self) -> Lines:
        lines = [*self._head.lines, (X_REQUEST_ID, self.request_id), *self._own_lines()]
        if self._degraded:
            lines.append((X_CACHE_DEGRADED, REDIS_UNAVAILABLE))
        return tuple(lines)

    def _own_lines(self) -> Lines:
        """This answer's lines besides the head's and its request id."""
        return ()

    def _own_block(self) -> bytes:
        """The same, serialized."""
        return b""

    @property
    def headers(self) -> CIMultiDict[str]:
        if not self.prepared:  # aiohttp fills _headers only when it serializes
            return CIMultiDict(self._answer_lines())
        return self._headers

    async def _start(self, request: web.BaseRequest) -> AbstractStreamWriter:
        writer = request._payload_writer
        status = self._STATUS.get(request.version)
        if status is None or not self.buffered_writes or not hasattr(writer, "_headers_buf") \
                or self._compression or _hooked(request):
            self._headers.extend(self._answer_lines())
            return await super()._start(request)
        self._req = request
        self._payload_writer = writer
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = self._keep_alive = request.keep_alive
        writer.length = len(self._body) if self._body is not None else 0  # type: ignore[arg-type]
        if request.version == HttpVersion11:
            connection = b"" if keep_alive else _CLOSE
        else:
            connection = _KEEP_ALIVE if keep_alive else b""
        writer._headers_buf = b"".join((
            status, self._head.block, self._own_block(), b"Date: ",
            rfc822_formatted_time().encode(), b"\r\nX-Request-ID: ", self.request_id.encode(),
            b"\r\n", _DEGRADED if self._degraded else b"", connection, b"\r\n",
        ))
        writer._headers_written = False  # type: ignore[attr-defined]
        return writer


class RenderedHit(Rendered):
    """A hit's 200: `value`, the value's `head` (Server, nosniff and the CSP
    among its lines), then Age and the lines of this answer."""

    def __init__(self, value: bytes, head: Head, age: str | None, request_id: str,
                 degraded: bool) -> None:
        super().__init__(value, head, request_id, degraded)
        self._age = age

    def _own_lines(self) -> Lines:
        return () if self._age is None else ((hdrs.AGE, self._age),)

    def _own_block(self) -> bytes:
        return b"" if self._age is None else b"Age: " + self._age.encode() + b"\r\n"


class RenderedStored(Rendered):
    """A write's 204 (PUT, DELETE): X-Cache-Stored and the constant lines
    from a head made once per value of X-Cache-Stored (`stored_head`)."""

    _STATUS = _status_lines(204, "No Content")

    def __init__(self, head: Head, request_id: str, degraded: bool) -> None:
        super().__init__(None, head, request_id, degraded, status=204)
