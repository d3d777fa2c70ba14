"""JSON answers, encoded once with orjson, and the error shape of DESIGN.md."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

JSON = "application/json"


def json_response(body: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=JSON)


def error_response(status: int, code: str, message: str) -> web.Response:
    """`{"error": code, "message": sentence}`: every 4xx this service gives."""
    return json_response({"error": code, "message": message}, status=status)
