"""The per-request layer: timing, JSON for every error, who may do what.

    request ─► (a plain memory-hit GET: answered at the front door, front.py)
           ─► its id (request_ids.py), in REQUEST_ID for every log line written
               while it is handled (service/logs.py)
           ─► route's handler, instrumented: start the clock
                 ─► the route's need (access.py: read, write, purge, observe, or
                    open) and the caller the token names: none ─► 401 JSON;
                    the right or the namespace missing ─► 403 JSON
                 ─► a /cache/ route with HTTP_MAX_INFLIGHT requests in progress
                    (or /metrics, /health/detailed, /health/events with
                    OBSERVE_MAX_INFLIGHT) ─► 503 `overloaded` + Retry-After, at once
                 ─► the handler ─► raised HTTP error ─► JSON; anything else ─► 500 JSON
               ─► observe (route, method, status, seconds) ─► answer
           every answer: X-Request-ID, a Server header naming no versions,
           nosniff and a sandbox CSP (answer_headers.py), a count for its
           caller, and with ACCESS_LOG=true one "roleready.access" line naming
           the caller (never the token)
    no route matched ─► the fallback route, instrumented the same way ─► 404/405 JSON
    not a request at all (aiohttp's parser refused it), or an Expect header
    other than 100-continue ─► early_errors.py: the same headers, problem+json

These are not aiohttp middlewares on purpose. Once an application has any
middleware, aiohttp runs every request through two more layers (its own
current-app fixer, then ours) and looks the chain up in an LRU cache: about
10 % of a memory-hit GET's CPU on the reference machine. So `mount_routes`
wraps each route's handler once, at start-up, and ends the table with a
fallback route for what the router cannot match: answers, status codes,
headers and metrics are what the middlewares gave.

The front door (front.py) answers plain memory hits before the router and
this layer; it applies the same token rules, request ids, timing and access
log. Its answers are not counted against HTTP_MAX_INFLIGHT, nor refused by
it: each is synchronous, so it is never in progress while any other request
runs (counting it would change no other request's view), and it holds no
memory, socket or Redis command that the limit exists to bound; refusing it
would cost as much CPU as answering it.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from service.appkeys import CACHE_POOL, REQUEST_IDS
from service.collectors import Metrics
from service.http.access import ANONYMOUS_CALLER, Guard, Need, need_of
from service.http.access import UNMATCHED as UNMATCHED_NEED
from service.http.answer_headers import SERVER, stamp
from service.http.early_errors import ExpectHandler, expect_handler_for
from service.http.rendered import Rendered
from service.http.request_ids import X_REQUEST_ID, RequestIds
from service.http.responses import error_response, overloaded
from service.logs import REQUEST_ID
from service.request_durations import Observe

log = logging.getLogger("roleready.http")
access = logging.getLogger("roleready.access")
DEFAULT_MAX_INFLIGHT = 1024
# The routes that look at Redis or at the other workers (a probe, a journal
# copy, every sibling asked): a small pool of their own, so a flood of them
# queues neither Redis nor the workers. Prometheus and a load balancer need
# one or two at a time.
OBSERVE_PATHS = frozenset({"/metrics", "/health/detailed", "/health/events"})
OBSERVE_MAX_INFLIGHT = 8
CACHE_PREFIX = "/cache/"
# Matches every path, line breaks included (a `.*` stops at a %0a, and the
# router then answers aiohttp's plain-text 404/405 itself); its resource is
# indexed under "/", so the router tries it after every other route.
FALLBACK_PATH = r"/{tail:[\s\S]*}"
UNMATCHED = "unmatched"


@dataclass(frozen=True)
class Layer:
    """What every route's wrapper in one app shares: `guard` decides callers,
    `ids` names requests, `access_log` logs each."""

    guard: Guard
    ids: RequestIds = field(default_factory=RequestIds)
    access_log: bool = False


@dataclass
class Inflight:
    """Requests in progress in a set of routes, how many are allowed, and
    what counts a refusal."""

    limit: int
    count: int = 0
    refused: Callable[[], None] = lambda: None


def mount_routes(
    app: web.Application,
    declared: web.UrlDispatcher,
    metrics: Metrics,
    guard: Guard,
    *,
    max_inflight: int = DEFAULT_MAX_INFLIGHT,
    access_log: bool = False,
    tracer: Any | None = None,
) -> None:
    """Add every route of `declared` to `app`, instrumented, then the fallback.

    The /cache/ routes share one limit of `max_inflight` requests in progress;
    /metrics, /health/detailed and /health/events share OBSERVE_MAX_INFLIGHT;
    the others (/health, /health/ready, /api/status, /openapi.json) are never
    refused. With a
    `tracer` (OpenTelemetry's), each route's wrapper runs inside a server
    span (service.http.tracing, imported only then).
    """
    span: Callable[[Handler, str, str], Handler] = _untraced
    if tracer is not None:
        from service.http.tracing import traced

        def span(handler: Handler, path: str, method: str) -> Handler:
            return traced(handler, tracer, path, method)

    layer = Layer(guard, access_log=access_log)
    guard.keep_caller = tracer is not None  # the span names the caller
    cache_routes = Inflight(max_inflight, refused=metrics.overloaded.inc)
    app[CACHE_POOL] = cache_routes  # lease waiters step out of it while they wait
    app[REQUEST_IDS] = layer.ids  # the front door's ids too (service.http.front)
    observers = Inflight(OBSERVE_MAX_INFLIGHT, refused=metrics.overloaded.inc)
    for route in declared.routes():
        assert route.resource is not None
        path = route.resource.canonical
        durations = metrics.request_durations
        observe = durations.observer(path, route.method)
        limit = (cache_routes if path.startswith(CACHE_PREFIX)
                 else observers if path in OBSERVE_PATHS else Inflight(sys.maxsize))
        need = need_of(route.handler)
        handler = instrumented(route.handler, observe, layer, limit, need)
        app.router.add_route(route.method, path, span(handler, path, route.method),
                             name=route.name, expect_handler=_expecting(guard, need))
    observe = metrics.request_durations.observer(UNMATCHED, "*")
    fallback = instrumented(unmatched, observe, layer, Inflight(sys.maxsize), UNMATCHED_NEED)
    app.router.add_route("*", FALLBACK_PATH, span(fallback, UNMATCHED, "*"),
                         expect_handler=_expecting(guard, UNMATCHED_NEED))


def _expecting(guard: Guard, need: Need) -> ExpectHandler:
    """The route's expect handler: a 100 only for a caller `need` admits."""
    return expect_handler_for(lambda request: guard.decide(request, need)[1] is None)


def _untraced(handler: Handler, path: str, method: str) -> Handler:
    return handler


def instrumented(
    handler: Handler, observe: Observe, layer: Layer, inflight: Inflight, need: Need
) -> Handler:
    """`handler` timed, its errors answered as problem details, its caller
    checked against `need`, refused with 503 while `inflight` is full.

    Every answer is observed with the status the caller gets (401, 403, 503, and
    JSON 404/405/500, included); redirects (HTTPException < 400) and
    cancellations pass through unobserved.
    """
    perf_counter = time.perf_counter
    guard, ids, access_log = layer.guard, layer.ids, layer.access_log

    async def answer(request: web.Request) -> web.StreamResponse:
        started = perf_counter()
        request_id = REQUEST_ID.get()  # set already when the front door declined
        if request_id is None:
            request_id = ids.of(request)
            REQUEST_ID.set(request_id)
        caller = ANONYMOUS_CALLER
        try:
            caller, refusal = guard.decide(request, need)
            if refusal is not None:
                response: web.StreamResponse = refusal
            elif inflight.count >= inflight.limit:
                response = _overloaded()
                inflight.refused()
            else:
                inflight.count += 1
                try:
                    response = await handler(request)
                finally:
                    inflight.count -= 1
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = _http_error(request, exc)
        except Exception:
            # Never leak internals (or secrets inside them) to the caller.
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = error_response(500, "internal", "The service failed to handle this request.")
        if isinstance(response, Rendered):  # its head has the constant headers
            response.request_id = request_id
        else:
            headers = response.headers
            headers[X_REQUEST_ID] = request_id
            headers[hdrs.SERVER] = SERVER
            stamp(headers)
        seconds = perf_counter() - started
        observe(request, response.status, seconds)
        guard.count(caller.name)
        if access_log:
            log_access(request, response, seconds, caller.name)
        return response

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


def _overloaded() -> web.Response:
    return overloaded("Too many requests in progress; retry after the given seconds.")


def log_access(
    request: web.Request, response: web.StreamResponse, seconds: float, caller: str
) -> None:
    """One line per answer, naming the caller (never its token); the request
    id comes with it (service/logs.py)."""
    milliseconds = round(seconds * 1000, 3)
    access.info(
        "%s %s %d %.3f ms %s", request.method, request.path_qs, response.status,
        milliseconds, caller,
        extra={
            "method": request.method,
            "path": request.path_qs,
            "status": response.status,
            "duration_ms": milliseconds,
            "x_cache": response.headers.get("X-Cache"),
            "remote": request.remote,
            "caller": caller,
        },
    )


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    code = exc.reason.lower().replace(" ", "_")
    response = error_response(exc.status, code, f"{exc.reason}: {request.method} {request.path}")
    for name in ("Allow", "WWW-Authenticate"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response
