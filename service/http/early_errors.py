"""The answers aiohttp gives before any route runs, made like every other:
problem+json, `Server: roleready-cache`, nosniff and the sandbox CSP.

    bytes that are not an HTTP/1.1 request (a bad request line or method, a
    header byte HTTP forbids, a line over 8190 bytes, TLS on the plain port)
        ─► aiohttp's parser refuses them ─► RequestHandler.handle_error
        ─► ProblemRequestHandler.handle_error: 400 `bad_request`, its detail
           naming the kind of fault (never the bytes), connection closed
    (a handler's exception that escaped the request layer: 500 `internal`)
    a route's request with an Expect other than 100-continue
        ─► the route's expect handler (`expect_handler_for`): 417 `expectation_failed`
    a route's request with Expect: 100-continue
        ─► `100 Continue` only when the route would take it from this caller
           (`expect_handler_for`: a refused caller gets the route's 401 or
           403 at once, and sends no body)

Why here: aiohttp answers these from its protocol handler, before the
router, the request layer (service.http.request_layer) and any middleware,
in plain text that echoes the refused bytes, with its own Server header; it
has no setting for that answer
(https://github.com/aio-libs/aiohttp/issues/3287). The one method that
builds it is RequestHandler.handle_error; the web.Server makes a
RequestHandler per connection, and the runner makes the Server. So
service.server's ServiceRunner hands out a ProblemServer, whose connections
are ProblemRequestHandlers. aiohttp still logs the fault
(service.logs turns a client's 4xx into one INFO line), and still refuses
to answer once an answer has begun. A well-formed request runs none of this.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11

from service.http.answer_headers import SERVER, stamp
from service.http.responses import error_response

CONTINUE = "100-continue"


def finished(response: web.Response) -> web.Response:
    """`response` with the headers every answer carries (the request layer
    adds them to the answers of routes; these never reach it)."""
    response.headers[hdrs.SERVER] = SERVER
    stamp(response.headers)
    return response


def early_problem(status: int, exc: BaseException | None) -> web.Response:
    """The answer to a request aiohttp could not take: 400 `bad_request` for
    what its parser refused, 500 `internal` for a failure past the request
    layer, else the status's own phrase."""
    if status == HTTPStatus.BAD_REQUEST:
        kind = type(exc).__name__ if exc is not None else "malformed"
        response = error_response(
            400, "bad_request",
            f"The request is not one this service can read ({kind}); nothing was done.")
    elif status == HTTPStatus.INTERNAL_SERVER_ERROR:
        response = error_response(500, "internal", "The service failed to handle this request.")
    else:
        phrase = HTTPStatus(status).phrase
        response = error_response(status, phrase.lower().replace(" ", "_"), phrase)
    response.force_close()  # the connection's state is unknown after such a fault
    return finished(response)


class ProblemRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, its early errors answered as problems."""

    __slots__ = ()

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        # aiohttp's own logs the fault and raises once an answer has begun;
        # its plain-text answer is dropped.
        super().handle_error(request, status, exc, message)
        return early_problem(status, exc)


class ProblemServer(web.Server):
    """A web.Server whose connections are ProblemRequestHandlers."""

    def __call__(self) -> web.RequestHandler:
        return ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


ExpectHandler = Callable[[web.Request], Awaitable["web.StreamResponse | None"]]


def expect_handler_for(admitted: Callable[[web.Request], bool]) -> ExpectHandler:
    """A route's answer to its request's Expect header: `100 Continue` as
    aiohttp's default handler writes it, when `admitted(request)` (the
    caller may use the route); else nothing, and the route's handler gives
    its final answer at once (RFC 9110, 10.1.1: a server may answer
    without the 100), so a refused caller is not asked for its body. Any
    other expectation of an HTTP/1.1 request: 417 `expectation_failed`
    (aiohttp's raises a plain-text one)."""

    async def expect(request: web.Request) -> web.StreamResponse | None:
        if request.version != HttpVersion11:
            return None
        if request.headers.get(hdrs.EXPECT, "").lower() == CONTINUE:
            if admitted(request):
                await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                request.writer.output_size = 0  # the answer proper has not begun
            return None
        return finished(error_response(
            417, "expectation_failed", "The only expectation this service meets is 100-continue."))

    return expect
