"""Answers that hold memory until their reader takes them: a budget of
bytes (CACHE_INFLIGHT_MAX_BYTES, service.byte_budget) for the batch routes
and large answers, and a write timeout for large answers.

    batch request ─► CACHE_INFLIGHT_MAX_BYTES passed by what is held plus its
                     declared body? ─► 503 `overloaded` + Retry-After, at once
                  ─► its body held while the handler runs (a chunked body as
                     it arrives: BATCH_HOLD, service.http.bodies)
                  ─► its answer, when large, held until written (or dropped)
    large answer (a batch's, or a hit over LARGE_ANSWER_BYTES)
                  ─► a hit's bytes taken from the budget, or 503 `overloaded`
                  ─► written within HTTP_WRITE_TIMEOUT_MS, or the connection
                     is dropped and the answer's bytes let go
    (a single-key PUT's body: service.http.cache_api and bodies.admit)

Why a write timeout: aiohttp waits for a slow reader's socket to drain
with no limit, and the answer's bytes stay in the transport's buffer
meanwhile; a client that asks for a 16 MiB `_mget` and never reads would
hold them for as long as it keeps the connection open. Small answers fit
in the kernel's socket buffer and never wait: they keep aiohttp's plain
Response (no extra coroutine, and no budget arithmetic, on the memory-hit
path), a batch's small answer too (a second Response and the timeout's
scheduling were ~8 % of a `_mget` of 100 memory hits).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from service import appkeys
from service.byte_budget import Hold
from service.http.bodies import BadRequest
from service.http.responses import over_budget

# Answers at most this long are written as aiohttp writes them.
LARGE_ANSWER_BYTES = 64 * 1024
# A batch request's share of the budget, for read_body to grow when its body
# has no Content-Length (a mapping lookup: batch routes only).
BATCH_HOLD = web.RequestKey("roleready_batch_hold", Hold)


class TimedResponse(web.Response):
    """An answer its reader must take within `timeout_s` (else the
    connection is dropped), which gives back what `hold` holds of the byte
    budget once written, dropped, or never started."""

    def __init__(self, *, timeout_s: float, hold: Hold | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._timeout_s = timeout_s
        self._hold = hold

    async def prepare(self, request: web.BaseRequest) -> Any:
        try:
            return await super().prepare(request)
        except BaseException:
            self._give_back()
            raise

    async def write_eof(self, data: bytes = b"") -> None:
        request = self._req
        try:
            async with asyncio.timeout(self._timeout_s):
                await super().write_eof(data)
        except TimeoutError:
            if request is not None and request.transport is not None:
                request.transport.abort()
            # aiohttp takes a ConnectionError as the client gone: no traceback.
            raise ConnectionResetError("the client did not read its answer in time") from None
        finally:
            self._give_back()

    def _give_back(self) -> None:
        if self._hold is not None:
            self._hold.release()


def answer_hold(request: web.Request, size: int) -> Hold | None:
    """What a hit's answer of `size` bytes holds of the byte budget until it
    is written: a GET of a value over LARGE_ANSWER_BYTES takes its size, or
    raises BadRequest carrying 503 `overloaded`; a smaller value (no budget
    work at all) or a HEAD (no body written) holds nothing: None."""
    if size <= LARGE_ANSWER_BYTES or request.method == hdrs.METH_HEAD:
        return None
    hold = Hold(request.app[appkeys.BYTE_BUDGET])
    if not hold.take(size):
        raise BadRequest(over_budget())
    return hold


def hit_answer(request: web.Request, value: bytes, headers: Any,
               hold: Hold | None) -> web.Response:
    """A hit's 200; a large one must be read within HTTP_WRITE_TIMEOUT_MS,
    its bytes in `hold` (answer_hold's) until written."""
    if len(value) <= LARGE_ANSWER_BYTES:
        return web.Response(body=value, headers=headers)
    timeout_s = request.app[appkeys.SETTINGS].http_write_timeout_ms / 1000
    return TimedResponse(body=value, headers=headers, timeout_s=timeout_s, hold=hold)


def budgeted(handler: Handler) -> Handler:
    """`handler` (a batch route's) within the process's ByteBudget, its
    answer written with the write timeout. It keeps what `handler` declares
    of itself (its access need: service/http/access.py)."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.StreamResponse:
        app = request.app
        budget = app[appkeys.BYTE_BUDGET]
        hold = Hold(budget)
        # A chunked body declares nothing: refused once the budget is spent,
        # else taken as it arrives (read_body, through BATCH_HOLD).
        if not hold.take(request.content_length or 0):
            return over_budget()
        request[BATCH_HOLD] = hold
        try:
            response = await handler(request)
        finally:
            hold.release()
        body = response.body if isinstance(response, web.Response) else None
        if not isinstance(body, bytes) or len(body) <= LARGE_ANSWER_BYTES:
            return response
        held = Hold(budget)
        held.force(len(body))  # made already: held whatever the budget says
        return TimedResponse(body=body, status=response.status, headers=response.headers,
                             timeout_s=app[appkeys.SETTINGS].http_write_timeout_ms / 1000,
                             hold=held)

    return answer
