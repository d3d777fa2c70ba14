"""Liveness, readiness, the detailed health document, the journal, status."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import orjson
from aiohttp import hdrs, web

from service import __version__, appkeys
from service.build import build
from service.config.callers import OBSERVE
from service.eventloop import loop_name
from service.http.access import needs
from service.http.health_json import HEALTH_JSON, health_json, wants_health_json
from service.http.health_report import detailed_report, lease_check
from service.http.instance.instance_health import (
    entries_of,
    health_json_workers,
    instance_report,
    link_is_healthy,
    worker_entry,
)
from service.http.instance.peers import Peers, ask_siblings
from service.http.numbers import whole_number
from service.http.responses import error_response, json_response
from service.link.probe import ProbeResult
from statemachine.clock import iso_utc
from statemachine.states import State

DEFAULT_EVENTS_LIMIT = 100
# More than any journal keeps; the bound only keeps the number an int64.
MAX_EVENTS_LIMIT = 1_000_000


@needs(None)
async def liveness(request: web.Request) -> web.Response:
    """200 whenever the process serves; never depends on Redis."""
    return json_response({"status": "ok"})


@needs(None)
async def readiness(request: web.Request) -> web.Response:
    """200 while serving (memory fallback included), 503 while draining."""
    if request.app[appkeys.READINESS].draining:
        return json_response({"status": "draining"}, status=503)
    return json_response({"status": "ready"})


@needs(OBSERVE)
async def detailed(request: web.Request) -> web.Response:
    """The guide's document, or with `Accept: application/health+json` the
    IETF draft's (service.http.health_json); always 200, bounded by the
    command timeout. With workers, both describe the instance
    (service.http.instance.instance_health)."""
    app = request.app
    link = app[appkeys.LINK]
    result = await app[appkeys.PROBE].result()
    peers = app.get(appkeys.PEERS)
    siblings = await _siblings_health(peers) if peers is not None else {}
    if wants_health_json(request.headers.get(hdrs.ACCEPT)):
        time = iso_utc(app[appkeys.CLOCK].wall())
        document = health_json(
            build(), app[appkeys.CACHE], link.view, link.state, link.enabled, result,
            link.topology(), app[appkeys.READINESS].draining, time,
        )
        if peers is not None:
            own = _worker_entry(
                app, link.enabled and link.state == State.READY and result is not None)
            health_json_workers(document, entries_of(own, siblings), time, link.enabled)
        return web.Response(body=orjson.dumps(document), headers={
            hdrs.CONTENT_TYPE: HEALTH_JSON, hdrs.VARY: hdrs.ACCEPT,
        })
    report = _guide_report(app, result)
    if peers is not None:
        own = _worker_entry(app, report["checks"]["redis"]["status"] == "healthy")
        report = instance_report(report, own, siblings)
    response = json_response(report)
    response.headers[hdrs.VARY] = hdrs.ACCEPT  # the same URL answers health+json too
    return response


def _guide_report(app: web.Application, result: ProbeResult | None) -> dict[str, Any]:
    link = app[appkeys.LINK]
    report = detailed_report(app[appkeys.CACHE], link.view, link.state, link.enabled, result)
    # Where the link is: the guide's fields stay as they are, this is added.
    report["checks"]["redis"]["topology"] = link.topology()
    report["checks"]["cache"]["leases"] = lease_check(app[appkeys.LEASES].stats)
    return report


def _worker_entry(app: web.Application, healthy: bool) -> dict[str, Any]:
    link = app[appkeys.LINK]
    peers = app[appkeys.PEERS]
    return worker_entry(peers.slot, os.getpid(), link.view, link.state, healthy,
                        app[appkeys.READINESS].draining)


async def worker_health(app: web.Application) -> bytes:
    """What a sibling worker is sent: this worker's entry and document, no probe."""
    link = app[appkeys.LINK]
    entry = _worker_entry(app, link_is_healthy(link.enabled, link.state))
    return orjson.dumps({"worker": entry, "report": _guide_report(app, None)})


async def _siblings_health(peers: Peers) -> dict[int, dict[str, Any] | None]:
    answers = await ask_siblings(peers, "health")
    return {slot: _document(answer) for slot, answer in answers.items()}


def _document(answer: bytes | None) -> dict[str, Any] | None:
    try:
        return orjson.loads(answer) if answer else None
    except orjson.JSONDecodeError:
        return None


@needs(OBSERVE)
async def events(request: web.Request) -> web.Response:
    """The journal's most recent events, newest last."""
    link = request.app[appkeys.LINK]
    raw = request.query.get("limit", str(DEFAULT_EVENTS_LIMIT))
    limit = whole_number(raw, 1, MAX_EVENTS_LIMIT)
    if limit is None:
        return error_response(
            400, "bad_limit", f"limit must be a whole number from 1 to {MAX_EVENTS_LIMIT}.")
    dropped, recent = link.recent_events(limit)
    return json_response(
        {"state": link.state, "dropped": dropped, "count": len(recent), "events": recent}
    )


@needs(OBSERVE)
async def status(request: web.Request) -> web.Response:
    """Version, build and Redis state; `process` says which process answered
    (with workers, the one the connection reached)."""
    link = request.app[appkeys.LINK]
    settings = request.app[appkeys.SETTINGS]
    peers = request.app.get(appkeys.PEERS)
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
            "process": {
                "pid": os.getpid(),
                "eventLoop": loop_name(asyncio.get_running_loop()),
                "worker": peers.slot if peers is not None else None,
                "workers": settings.workers,
            },
        }
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/health", liveness)
    router.add_get("/health/ready", readiness)
    router.add_get("/health/detailed", detailed)
    router.add_get("/health/events", events)
    router.add_get("/api/status", status)
