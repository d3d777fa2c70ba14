"""A request's body, read within its limits: size (413), time (408),
completeness (400 when the client left before its Content-Length), and the
process's byte budget (503, service.byte_budget).

    declared Content-Length over the limit ─► 413 before anything is read
    its bytes not in the byte budget        ─► 503 `overloaded` before anything
                                               is read (`admit`); a chunked body
                                               is taken as it arrives, and
                                               refused (connection closed) when
                                               the next chunk does not fit
    all arrived already (the usual case)   ─► read, no timer
    else ─► read within HTTP_BODY_TIMEOUT_MS ─► 408, connection closed
    more than the limit arrives            ─► 413 as soon as it does
    the connection ends first              ─► 400 `incomplete_body`

Used by the single-key PUT and the batch routes; a parsing helper raises
BadRequest carrying the ready answer, which the handler returns.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from service import appkeys
from service.byte_budget import Hold
from service.http.responses import error_response, over_budget


class BadRequest(Exception):
    """Carries the ready 4xx answer from a parsing helper to the handler."""

    def __init__(self, response: web.Response) -> None:
        self.response = response


def _too_large(limit: int, what: str) -> BadRequest:
    """The 413, made only when it is the answer: it is a Response, and
    making one on every read was ~2 % of a `_mget`'s instructions."""
    return BadRequest(error_response(413, "too_large", f"{what} are limited to {limit} bytes."))


def admit(request: web.Request, limit: int, hold: Hold, what: str = "Values") -> None:
    """Before reading: 413 when the declared length passes `limit`, else
    503 `overloaded` unless the byte budget takes it into `hold` (a chunked
    body declares nothing: it needs a byte of the budget left, and
    `read_body` takes the rest as it arrives)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise _too_large(limit, what)
    if not hold.take(declared or 0):
        raise BadRequest(over_budget())


async def read_body(request: web.Request, limit: int, what: str = "Values",
                    hold: Hold | None = None) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit`, and
    with 408 (closing the connection) when it has not all arrived within
    HTTP_BODY_TIMEOUT_MS. With `hold` (which `admit` gave the declared
    length), bytes past what it holds are taken as they arrive, or 503."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise _too_large(limit, what)
    content = request.content
    if content.is_eof():  # all here already (the usual case): no timer, no loop
        body = content.read_nowait()
        _check_size(len(body), limit, what, hold)
        return body
    timeout_ms = request.app[appkeys.SETTINGS].http_body_timeout_ms
    try:
        async with asyncio.timeout(timeout_ms / 1000):
            return await _read_body(request, limit, what, hold)
    except TimeoutError:
        response = error_response(
            408, "request_timeout",
            f"The body did not arrive in full within {timeout_ms} ms; nothing was stored.",
        )
        response.force_close()
        raise BadRequest(response) from None


async def _read_body(request: web.Request, limit: int, what: str,
                     hold: Hold | None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.readany():
            size += len(chunk)
            _check_size(size, limit, what, hold)
            chunks.append(chunk)
    except (ConnectionError, HttpProcessingError):
        # The client closed before its body was complete (shorter than its
        # Content-Length, a broken chunk): nothing to store, nobody to tell.
        response = error_response(400, "incomplete_body",
                                  "The body ended before it was complete; nothing was stored.")
        response.force_close()
        raise BadRequest(response) from None
    return b"".join(chunks)


def _check_size(size: int, limit: int, what: str, hold: Hold | None) -> None:
    """413 once `size` bytes have passed `limit`; 503 (the connection
    closed: the rest of the body is not wanted) when `hold` cannot grow to
    them. Only a body without Content-Length gets past what `admit` took."""
    if size > limit:
        raise _too_large(limit, what)
    if hold is not None and size > hold.size and not hold.take(size - hold.size):
        response = over_budget()
        response.force_close()
        raise BadRequest(response)
