"""Request middlewares: timing and JSON for every error; bearer-token auth for /cache/.

Every middleware costs each request a coroutine frame, an await and
aiohttp's wrapper call, so timing and error answers share one middleware.
"""

from __future__ import annotations

import hmac
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from service.http.responses import error_response
from service.metrics import Metrics

log = logging.getLogger("roleready.http")
PROTECTED_PREFIX = "/cache/"


def token_auth(token: str) -> Middleware:
    """Require `Authorization: Bearer <token>` on /cache/ (constant-time compare)."""
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(PROTECTED_PREFIX):
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                response = error_response(
                    401, "unauthorized", "A valid 'Authorization: Bearer <token>' is required."
                )
                response.headers["WWW-Authenticate"] = "Bearer"
                return response
        return await handler(request)

    return middleware


def timed_json_errors(metrics: Metrics) -> Middleware:
    """Observe every answer's duration; answer errors as DESIGN.md JSON.

    aiohttp's own 404/405 and any unexpected failure become JSON, and the
    duration is observed with the status the caller finally gets. Redirects
    (HTTPException < 400) and cancellations pass through unobserved.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = _http_error(request, exc)
        except Exception:
            # Never leak internals (or secrets inside them) to the caller.
            log.exception("unhandled error on %s %s", request.method, request.path)
            response = error_response(500, "internal", "The service failed to handle this request.")
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics.observe(route, request.method, response.status, time.perf_counter() - started)
        return response

    return middleware


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    code = exc.reason.lower().replace(" ", "_")
    response = error_response(exc.status, code, f"{exc.reason}: {request.method} {request.path}")
    for name in ("Allow", "WWW-Authenticate"):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response
