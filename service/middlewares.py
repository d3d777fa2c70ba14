"""Request middlewares: bearer-token auth for /cache/, JSON for every error."""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from service.http.responses import error_response

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


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own 404/405 (and any unexpected failure) as DESIGN.md JSON."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        response = error_response(exc.status, code, f"{exc.reason}: {request.method} {request.path}")
        for name in ("Allow", "WWW-Authenticate"):
            if name in exc.headers:
                response.headers[name] = exc.headers[name]
        return response
    except Exception:
        # Never leak internals (or secrets inside them) to the caller.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "The service failed to handle this request.")
