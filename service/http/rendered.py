"""A memory hit's answer whose constant header lines are serialized once per value.

    a stored value (its PUT's version) ─► its Head, made on its first hit:
        Content-Type, X-Cache, Cache-Status, Server, nosniff, CSP,
        [Content-Disposition], ETag, Cache-Control, [X-Cache-Tags] and
        Content-Length as (name, value) pairs, and serialized into one block
    each hit ─► RenderedHit(value, head, Age, X-Request-ID, degraded?)
        ─► its header section: the status line, the block, then Age, Date,
           X-Request-ID, [X-Cache-Degraded], [Connection] ─► aiohttp's
           writer, where aiohttp's serializer would have put the same lines

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
body. `_start` here does the same for the one case it serves (a 200 of a
known length, no compression, no cookies, no on_response_prepare hook: the
front door's answers reach no route). Where the writer is not aiohttp's
buffering StreamWriter, or the HTTP version is neither 1.0 nor 1.1, it hands
the same lines to aiohttp's own serializer instead. tests/service/
test_rendered.py holds both against each other, byte for byte, on a socket.
"""

from __future__ import annotations

from typing import NamedTuple

from aiohttp import hdrs, web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.helpers import rfc822_formatted_time
from aiohttp.http import HttpVersion10, HttpVersion11
from multidict import CIMultiDict

from service.http.entries import REDIS_UNAVAILABLE, X_CACHE_DEGRADED
from service.http.request_ids import X_REQUEST_ID

Lines = tuple[tuple[str, str], ...]
# As many heads as values answered recently; beyond it, they are made again.
MAX_HEADS = 4096
_HTTP11 = b"HTTP/1.1 200 OK\r\n"
_STATUS = {HttpVersion11: _HTTP11, HttpVersion10: b"HTTP/1.0 200 OK\r\n"}
_DEGRADED = f"{X_CACHE_DEGRADED}: {REDIS_UNAVAILABLE}\r\n".encode()
_CLOSE = b"Connection: close\r\n"  # HTTP/1.1 without keep-alive
_KEEP_ALIVE = b"Connection: keep-alive\r\n"  # HTTP/1.0 with it


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


class RenderedHit(web.Response):
    """A hit's 200: `value`, the value's `head`, then the lines of this
    answer. Its head carries Server, nosniff and the CSP already; the
    request layer sets `request_id` when the handler made it without one.
    `headers` shows every line (an access log line reads it)."""

    # False: always through aiohttp's serializer (the tests compare both).
    buffered_writes = True

    def __init__(self, value: bytes, head: Head, age: str | None, request_id: str,
                 degraded: bool) -> None:
        super().__init__(body=value)
        self._head = head
        self._age = age
        self.request_id = request_id
        self._degraded = degraded

    def _answer_lines(self) -> Lines:
        lines = [*self._head.lines, (X_REQUEST_ID, self.request_id)]
        if self._age is not None:
            lines.append((hdrs.AGE, self._age))
        if self._degraded:
            lines.append((X_CACHE_DEGRADED, REDIS_UNAVAILABLE))
        return tuple(lines)

    @property
    def headers(self) -> CIMultiDict[str]:
        if not self.prepared:  # aiohttp fills _headers only when it serializes
            return CIMultiDict(self._answer_lines())
        return self._headers

    async def _start(self, request: web.BaseRequest) -> AbstractStreamWriter:
        writer = request._payload_writer
        status = _STATUS.get(request.version)
        if status is None or not self.buffered_writes or not hasattr(writer, "_headers_buf") \
                or self._compression:
            self._headers.extend(self._answer_lines())
            return await super()._start(request)
        self._req = request
        self._payload_writer = writer
        keep_alive = self._keep_alive
        if keep_alive is None:
            keep_alive = self._keep_alive = request.keep_alive
        writer.length = len(self._body)  # type: ignore[arg-type]
        if status is _HTTP11:
            connection = b"" if keep_alive else _CLOSE
        else:
            connection = _KEEP_ALIVE if keep_alive else b""
        age = b"" if self._age is None else b"Age: " + self._age.encode() + b"\r\n"
        writer._headers_buf = b"".join((
            status, self._head.block, age, b"Date: ", rfc822_formatted_time().encode(),
            b"\r\nX-Request-ID: ", self.request_id.encode(), b"\r\n",
            _DEGRADED if self._degraded else b"", connection, b"\r\n",
        ))
        writer._headers_written = False  # type: ignore[attr-defined]
        return writer
