"""Liveness, readiness, the detailed health document, the journal, status."""

from __future__ import annotations

from aiohttp import web

from service import __version__, appkeys
from service.http.health_report import detailed_report, lease_check
from service.http.responses import error_response, json_response
from service.link.probe import probe

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
    """The guide's document; always 200, bounded by the command timeout."""
    link = request.app[appkeys.LINK]
    result = await probe(link, request.app[appkeys.SETTINGS].redis_command_timeout_ms / 1000)
    report = detailed_report(request.app[appkeys.CACHE], link.view, link.state, link.enabled, result)
    # Where the link is: the guide's fields stay as they are, this is added.
    report["checks"]["redis"]["topology"] = link.topology()
    report["checks"]["cache"]["leases"] = lease_check(request.app[appkeys.LEASES].stats)
    return json_response(report)


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
        }
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/health", liveness)
    router.add_get("/health/ready", readiness)
    router.add_get("/health/detailed", detailed)
    router.add_get("/health/events", events)
    router.add_get("/api/status", status)
