"""JSON answers, encoded once with orjson, and the error shape of DESIGN.md."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

JSON = "application/json"
OVERLOADED_RETRY_AFTER_S = 1


def json_response(body: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=JSON)


def error_response(status: int, code: str, message: str) -> web.Response:
    """`{"error": code, "message": sentence}`: every 4xx this service gives."""
    return json_response({"error": code, "message": message}, status=status)


def overloaded(message: str) -> web.Response:
    """503 `overloaded` with Retry-After: a limit on work in progress is full."""
    response = error_response(503, "overloaded", message)
    response.headers["Retry-After"] = str(OVERLOADED_RETRY_AFTER_S)
    return response
