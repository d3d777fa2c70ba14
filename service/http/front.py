"""The front door: a plain GET of an entry answered before aiohttp routes
it, and the other requests of /cache/<namespace>/<segment> taken to their
route without the router.

    request ─► /cache/<namespace>/<segment>, plainly written (no '%', no
               empty or dot segment), a configured namespace, no Expect?
             ─► GET or HEAD, the caller may read that namespace (access.py)
                and the memory tier has it (hits.memory_answerer: no
                If-None-Match, a small value, no refresh-ahead lease)?
                 ─► 200, timed into the GET (or HEAD) route's series ─► answer
             ─► otherwise, a route for this method and path (the entry's
                GET, HEAD, PUT, DELETE; `_mget`, `_mset`, `_mdelete`,
                `_invalidate` by POST): straight to its handler (the
                per-request layer around it), with the match the router
                would have made
    anything else, or anything raising ─► the app's own handler: the router,
        the per-request layer, the route's handler

Why a door in front of the app: aiohttp's Application._handle resolves every
request through the router (a walk of the path's prefixes, a regex, a
match-info object), then the route's wrapper runs. For a memory hit that
was ~27k of ~217k instructions (callgrind, `python -m
scripts.benchmark.instructions memory`), for a Redis hit ~23k of ~456k. A
bare aiohttp handler pays the router too, so a hit answered here costs
less than that floor. A PUT and a `_mget` pay the same walk: taken to their
route here, they skip it too.

Why it matches as the router does: a path of exactly `/cache/<a>/<b>`
without '%' is what aiohttp's router decodes to itself and matches to the
`/cache/{namespace}/{key}` route (the first /cache/ resource registered)
with namespace a and key b when that route takes the method, else to the
`/cache/{namespace}/b` route that does (a POST of `_mget`); dot segments
('.' and '..'), which yarl would normalise into another path, are left to
the router (tests/service/test_front.py holds the door's reading and its
choice of route against the router's, method by method).
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
    entry, named = _routes(app)
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
        raw_path = request.raw_path
        if not raw_path.startswith(PREFIX):
            return await inner(request)
        assert isinstance(request, web.Request)  # the app's request factory made it
        started = perf_counter()
        method = request.method
        request_id = ids.of(request)
        route, values = None, {}
        try:
            target = _entry_of(raw_path)
            if target is not None and target[0] in namespaces \
                    and hdrs.EXPECT not in request.headers:
                namespace, key = target
                series = ok.get(method)
                if series is not None:
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
                route = entry.get(method)
                if route is not None:
                    values = {"namespace": namespace, "key": key}
                else:
                    route, values = named.get((method, key)), {"namespace": namespace}
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


def _routes(app: web.Application) -> tuple[
        dict[str, web.AbstractRoute], dict[tuple[str, str], web.AbstractRoute]]:
    """The routes of /cache/{namespace}/<segment> as the router holds them:
    the entry route's by method, and those of a literal segment (`_mget`)
    by method and segment."""
    entry: dict[str, web.AbstractRoute] = {}
    named: dict[tuple[str, str], web.AbstractRoute] = {}
    for route in app.router.routes():
        resource = route.resource
        if resource is None:
            continue
        segments = resource.canonical.split("/")
        if resource.canonical == cache_api.ENTRY_PATH:
            entry[route.method] = route
        elif len(segments) == 4 and segments[:3] == ["", "cache", "{namespace}"] \
                and "{" not in segments[3]:
            named[(route.method, segments[3])] = route
    return entry, named


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
