"""Liveness, readiness, the detailed health document, the journal, status."""

from __future__ import annotations

import orjson
from aiohttp import hdrs, web

from service import __version__, appkeys
from service.build import build
from service.http.health_json import HEALTH_JSON, health_json, wants_health_json
from service.http.health_report import detailed_report, lease_check
from service.http.responses import error_response, json_response
from service.link.probe import probe
from statemachine.clock import iso_utc

DEFAULT_EVENTS_LIMIT = 100


async def liveness(request: web.Request) -> web.Response:
    """200 whenever the process serves; never depends on Redis."""
    return json_response({"status": "ok"})


async def readiness(request: web.Request) -> web.Response:
    """200 while serving (memory fallback included), 503 while draining."""
    if request.app[appkeys.READINESS].draining:
        return json_response({"status": "draining"}, status=503)
    return json_response({"status": "ready"})


async def detailed(request: web.Request) -> web.Response:
    """The guide's document, or with `Accept: application/health+json` the
    IETF draft's (service.http.health_json); always 200, bounded by the
    command timeout."""
    app = request.app
    link = app[appkeys.LINK]
    result = await probe(link, app[appkeys.SETTINGS].redis_command_timeout_ms / 1000)
    if wants_health_json(request.headers.get(hdrs.ACCEPT)):
        document = health_json(
            build(), app[appkeys.CACHE], link.view, link.state, link.enabled, result,
            link.topology(), app[appkeys.READINESS].draining, iso_utc(app[appkeys.CLOCK].wall()),
        )
        return web.Response(body=orjson.dumps(document), headers={
            hdrs.CONTENT_TYPE: HEALTH_JSON, hdrs.VARY: hdrs.ACCEPT,
        })
    report = detailed_report(app[appkeys.CACHE], link.view, link.state, link.enabled, result)
    # Where the link is: the guide's fields stay as they are, this is added.
    report["checks"]["redis"]["topology"] = link.topology()
    report["checks"]["cache"]["leases"] = lease_check(app[appkeys.LEASES].stats)
    response = json_response(report)
    response.headers[hdrs.VARY] = hdrs.ACCEPT  # the same URL answers health+json too
    return response


async def events(request: web.Request) -> web.Response:
    """The journal's most recent events, newest last."""
    link = request.app[appkeys.LINK]
    raw = request.query.get("limit", str(DEFAULT_EVENTS_LIMIT))
    if not raw.isdigit() or int(raw) < 1:
        return error_response(400, "bad_limit", "limit must be a whole number >= 1.")
    dropped, recent = link.recent_events(int(raw))
    return json_response(
        {"state": link.state, "dropped": dropped, "count": len(recent), "events": recent}
    )


async def status(request: web.Request) -> web.Response:
    link = request.app[appkeys.LINK]
    settings = request.app[appkeys.SETTINGS]
    return json_response(
        {
            "status": "ok",
            "service": "roleready-cache",
            "version": __version__,
            "redis": {
                "enabled": link.enabled,
                "state": link.state,
                "url": settings.redis_url_redacted or None,
            },
            "namespaces": sorted(settings.namespace_ttls_ms),
            "build": build().as_json(),
        }
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/health", liveness)
    router.add_get("/health/ready", readiness)
    router.add_get("/health/detailed", detailed)
    router.add_get("/health/events", events)
    router.add_get("/api/status", status)
