"""The front door: a plain GET of an entry answered before aiohttp routes it.

    request ─► GET or HEAD of /cache/<namespace>/<key>, plainly written (no
               '%', no empty or dot segment), a configured namespace, no Expect?
             ─► the caller may read that namespace (access.py) and the memory
                tier has it (hits.memory_answerer: no If-None-Match, a small
                value, no refresh-ahead lease)?
                 ─► 200, timed into the GET (or HEAD) route's series ─► answer
             ─► otherwise: straight to the entry route's handler (the
                per-request layer around cache_api.get_entry), with the match
                the router would have made
    anything else, or anything raising ─► the app's own handler: the router,
        the per-request layer, the route's handler

Why a door in front of the app: aiohttp's Application._handle resolves every
request through the router (a walk of the path's prefixes, a regex, a
match-info object), then the route's wrapper runs. For a memory hit that
was ~27k of ~217k instructions (callgrind, `python -m
scripts.benchmark.instructions memory`), for a Redis hit ~23k of ~456k. A
bare aiohttp handler pays the router too, so a hit answered here costs
less than that floor.

Why it matches as the router does: a path of exactly `/cache/<a>/<b>`
without '%' is what aiohttp's router decodes to itself and matches to the
`/cache/{namespace}/{key}` route (the first /cache/ resource registered)
with namespace a and key b; dot segments ('.' and '..'), which yarl would
normalise into another path, are left to the router
(tests/service/test_front.py holds the door's reading against the router's).
Only configured namespaces are looked up ('ns:key' names an entry only when
'ns' is one), and a key the route would refuse (400) is never in the memory
tier, so it is never found here. A memory hit sets no match info: the
answer needs none, and aiohttp skips its on_response_prepare hook without
it. An app with middlewares gets no door: they would be skipped.

The door stands only where the runner installs it (service.server's
ServiceRunner, used by both process paths and by the tests' app client),
and not at all with tracing on: a span per route is the per-request
layer's job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import hdrs, web

from service import appkeys
from service.http import cache_api, hits
from service.http.access import need_of
from service.http.request_ids import RequestIds
from service.http.request_layer import log_access
from service.logs import REQUEST_ID

log = logging.getLogger("roleready.http")
RequestHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
PREFIX = "/cache/"
_DOT_SEGMENTS = frozenset({".", ".."})


def front_door(app: web.Application, inner: RequestHandler) -> RequestHandler:
    """`inner` (the app's handler) behind the door for `app`; `inner`
    itself when tracing is on, or for an app that is not the service's."""
    if appkeys.TRACING in app or appkeys.CACHE not in app or app.middlewares:
        return inner
    routes = _entry_routes(app)
    answer_from_memory = hits.memory_answerer(app)
    guard = app[appkeys.GUARD]
    ids: RequestIds = app[appkeys.REQUEST_IDS]
    need = need_of(cache_api.get_entry)
    durations = app[appkeys.METRICS].request_durations
    ok = {method: durations.series(cache_api.ENTRY_PATH, method, 200)
          for method in (hdrs.METH_GET, hdrs.METH_HEAD)}
    settings = app[appkeys.SETTINGS]
    namespaces, access_log = settings.namespace_ttls_ms, settings.access_log
    perf_counter = time.perf_counter

    async def door(request: web.BaseRequest) -> web.StreamResponse:
        series = ok.get(request.method)
        raw_path = request.raw_path
        if series is None or not raw_path.startswith(PREFIX):
            return await inner(request)
        assert isinstance(request, web.Request)  # the app's request factory made it
        started = perf_counter()
        request_id = ids.of(request)
        route, values = None, {}
        try:
            target = _entry_of(raw_path)
            if target is not None and target[0] in namespaces \
                    and hdrs.EXPECT not in request.headers:
                namespace, key = target
                caller, refusal = guard.decide(request, need, namespace)
                response = None if refusal is not None else answer_from_memory(
                    request, namespace, key, request_id)
                if response is not None:
                    seconds = perf_counter() - started
                    series.record(seconds)
                    guard.count(caller.name)
                    if access_log:
                        REQUEST_ID.set(request_id)
                        log_access(request, response, seconds, caller.name)
                    return response
                route, values = routes[request.method], {"namespace": namespace, "key": key}
        except Exception:
            REQUEST_ID.set(request_id)
            log.exception("unhandled error on %s %s", request.method, request.path)
        REQUEST_ID.set(request_id)  # the per-request layer keeps it
        if route is None:
            return await inner(request)
        # What Application._handle would do once its router had matched the
        # entry route with these values (no middleware, no Expect: checked).
        match = web.UrlMappingMatchInfo(values, route)
        match.add_app(app)
        match.freeze()
        request._match_info = match
        return await route.handler(request)

    return door


def _entry_routes(app: web.Application) -> dict[str, web.AbstractRoute]:
    """The entry route's GET and HEAD routes, as the router holds them."""
    found = {}
    for route in app.router.routes():
        resource = route.resource
        if resource is not None and resource.canonical == cache_api.ENTRY_PATH \
                and route.method in (hdrs.METH_GET, hdrs.METH_HEAD):
            found[route.method] = route
    return found


def _entry_of(raw_path: str) -> tuple[str, str] | None:
    """The namespace and key of a plainly written /cache/<namespace>/<key>
    (query aside), or None for any other path."""
    path = raw_path.partition("?")[0]
    if "%" in path:
        return None
    parts = path[len(PREFIX):].split("/")
    if len(parts) != 2:
        return None
    namespace, key = parts
    if not namespace or not key or namespace in _DOT_SEGMENTS or key in _DOT_SEGMENTS:
        return None
    return namespace, key
