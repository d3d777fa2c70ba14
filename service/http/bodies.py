"""A request's body, read within its limits: size (413), time (408), and
completeness (400 when the client left before its Content-Length).

    declared Content-Length over the limit ─► 413 before anything is read
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
from service.http.responses import error_response


class BadRequest(Exception):
    """Carries the ready 4xx answer from a parsing helper to the handler."""

    def __init__(self, response: web.Response) -> None:
        self.response = response


async def read_body(request: web.Request, limit: int, what: str = "Values") -> bytes:
    """The request body, refused with 413 as soon as it passes `limit`, and
    with 408 (closing the connection) when it has not all arrived within
    HTTP_BODY_TIMEOUT_MS."""
    too_large = BadRequest(
        error_response(413, "too_large", f"{what} are limited to {limit} bytes.")
    )
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large
    if request.content.is_eof():  # all here already (the usual case): no timer
        return await _read_body(request, limit, too_large)
    timeout_ms = request.app[appkeys.SETTINGS].http_body_timeout_ms
    try:
        async with asyncio.timeout(timeout_ms / 1000):
            return await _read_body(request, limit, too_large)
    except TimeoutError:
        response = error_response(
            408, "request_timeout",
            f"The body did not arrive in full within {timeout_ms} ms; nothing was stored.",
        )
        response.force_close()
        raise BadRequest(response) from None


async def _read_body(request: web.Request, limit: int, too_large: BadRequest) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except (ConnectionError, HttpProcessingError):
        # The client closed before its body was complete (shorter than its
        # Content-Length, a broken chunk): nothing to store, nobody to tell.
        response = error_response(400, "incomplete_body",
                                  "The body ended before it was complete; nothing was stored.")
        response.force_close()
        raise BadRequest(response) from None
    return b"".join(chunks)
