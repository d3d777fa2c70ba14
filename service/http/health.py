"""Liveness, readiness and status endpoints for load balancers and people."""

from __future__ import annotations

from aiohttp import web

from service import __version__, keys
from service.http.responses import json_response


async def liveness(request: web.Request) -> web.Response:
    """200 whenever the process serves; never depends on Redis."""
    return json_response({"status": "ok"})


async def readiness(request: web.Request) -> web.Response:
    """200 while serving (memory fallback included), 503 while draining."""
    if request.app[keys.READINESS].draining:
        return json_response({"status": "draining"}, status=503)
    return json_response({"status": "ready"})


async def status(request: web.Request) -> web.Response:
    link = request.app[keys.LINK]
    return json_response(
        {
            "status": "ok",
            "service": "roleready-cache",
            "version": __version__,
            "redis": {"enabled": link.enabled, "state": link.lifecycle.state},
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/health", liveness)
    app.router.add_get("/health/ready", readiness)
    app.router.add_get("/api/status", status)
