"""The per-request layer: timing, JSON for every error, bearer-token auth for /cache/.

    request ─► the route's fast path, if it has one (token permitting): an answer?
                 ─► 200 with its body and headers, timed ─► answer
               ─► route's handler, instrumented: start the clock
                 ─► /cache/ path and a token set? wrong token ─► 401 JSON
                    (api_token.py: a fixed token, or a file followed as it rotates)
                 ─► the handler ─► raised HTTP error ─► JSON; anything else ─► 500 JSON
               ─► observe (route, method, status, seconds) ─► answer
    no route matched ─► the fallback route, instrumented the same way ─► 404/405 JSON

These are not aiohttp middlewares on purpose. Once an application has any
middleware, aiohttp runs every request through two more layers (its own
current-app fixer, then ours) and looks the chain up in an LRU cache: about
10 % of a memory-hit GET's CPU on the reference machine. So `mount_routes`
wraps each route's handler once, at start-up, and ends the table with a
fallback route for what the router cannot match: answers, status codes,
headers and metrics are what the middlewares gave.

A handler may declare a fast path (`@fast_path(factory)`; `factory(app)`
gives the function for one app): a synchronous function tried first that
returns a 200's body and headers, or None. A memory-tier hit is answered
that way, without creating and awaiting the handler's coroutine and without
going through `request.app`. The handler itself must still answer
everything, hits included: the fast path only saves work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import CIMultiDict

from service.collectors import Metrics
from service.http.api_token import ApiToken
from service.http.request_durations import Observe, Series
from service.http.responses import error_response

log = logging.getLogger("roleready.http")
PROTECTED_PREFIX = "/cache/"
# Matches every path; its resource is indexed under "/", so the router tries
# it after every other route.
FALLBACK_PATH = "/{tail:.*}"
UNMATCHED = "unmatched"
FAST_PATH_ATTRIBUTE = "fast_path"
# A fast path's answer, always a 200: its body and its headers (a fresh
# CIMultiDict each time: aiohttp adds to it).
FastAnswer = tuple[bytes, CIMultiDict[str]]
# Answers synchronously, or returns None to let the handler answer.
FastPath = Callable[[web.Request], FastAnswer | None]
# Builds a route's fast path for one application (it may keep the app at hand).
FastPathFactory = Callable[[web.Application], FastPath]
H = TypeVar("H", bound=Handler)


def fast_path(factory: FastPathFactory) -> Callable[[H], H]:
    """Mark a handler with the fast path the per-request layer tries first."""

    def mark(handler: H) -> H:
        setattr(handler, FAST_PATH_ATTRIBUTE, factory)
        return handler

    return mark


def mount_routes(
    app: web.Application,
    declared: web.UrlDispatcher,
    metrics: Metrics,
    token: ApiToken | None,
) -> None:
    """Add every route of `declared` to `app`, instrumented, then the fallback
    (`token` guards /cache/; None leaves it open)."""
    for route in declared.routes():
        assert route.resource is not None
        path = route.resource.canonical
        durations = metrics.request_durations
        observe = durations.observer(path, route.method)
        handler = instrumented(route.handler, observe, token)
        factory: FastPathFactory | None = getattr(route.handler, FAST_PATH_ATTRIBUTE, None)
        if factory is not None:
            ok = durations.series(path, route.method, 200)
            handler = with_fast_path(handler, factory(app), ok, token)
        app.router.add_route(route.method, path, handler, name=route.name)
    observe = metrics.request_durations.observer(UNMATCHED, "*")
    app.router.add_route("*", FALLBACK_PATH, instrumented(unmatched, observe, token))


def instrumented(handler: Handler, observe: Observe, token: ApiToken | None) -> Handler:
    """`handler` timed, its errors answered as DESIGN.md JSON, /cache/ guarded.

    Every answer is observed with the status the caller gets (401, and JSON
    404/405/500, included); redirects (HTTPException < 400) and cancellations
    pass through unobserved.
    """
    perf_counter = time.perf_counter

    async def answer(request: web.Request) -> web.StreamResponse:
        started = perf_counter()
        try:
            if token is not None and not _authorized(request, token):
                response: web.StreamResponse = _unauthorized()
            else:
                response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = _http_error(request, exc)
        except Exception:
            # Never leak internals (or secrets inside them) to the caller.
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = error_response(500, "internal", "The service failed to handle this request.")
        observe(request, response.status, perf_counter() - started)
        return response

    return answer


def with_fast_path(
    instrumented_handler: Handler, fast: FastPath, ok: Series, token: ApiToken | None
) -> Handler:
    """`fast` tried first, behind the token; `instrumented_handler` answers
    when it declines, and also when it fails (logged: the fast path only
    saves work, so the handler's answer is the right one).

    A fast answer is a 200 by construction, so it is timed and recorded into
    its series right here, without the call to `observe`: on a memory hit,
    that call was this layer's biggest cost.
    """
    perf_counter = time.perf_counter

    async def answer(request: web.Request) -> web.StreamResponse:
        started = perf_counter()
        if token is None or _authorized(request, token):
            try:
                found = fast(request)
                if found is not None:
                    response = web.Response(body=found[0], headers=found[1])
                    ok.record(perf_counter() - started)
                    return response
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.path)
        return await instrumented_handler(request)

    return answer


async def unmatched(request: web.Request) -> web.StreamResponse:
    """What the router could not match: 405 (and Allow) when some route has
    this path under other methods, else 404, as the router itself answers."""
    fallback = request.match_info.route.resource
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not fallback:
            _, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


def _authorized(request: web.Request, token: ApiToken) -> bool:
    """Only /cache/ is guarded; the token compares in constant time."""
    if not request.path.startswith(PROTECTED_PREFIX):
        return True
    return token.accepts(request.headers.get("Authorization", "").encode())


def _unauthorized() -> web.Response:
    response = error_response(
        401, "unauthorized", "A valid 'Authorization: Bearer <token>' is required."
    )
    response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    code = exc.reason.lower().replace(" ", "_")
    response = error_response(exc.status, code, f"{exc.reason}: {request.method} {request.path}")
    for name in ("Allow", "WWW-Authenticate"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response
