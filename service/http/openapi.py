"""GET /openapi.json: this instance's OpenAPI document (service/http/api_description),
encoded once when the app is built."""

from __future__ import annotations

import orjson
from aiohttp import web

from service import appkeys
from service.config import Settings
from service.config.callers import OBSERVE
from service.http.access import needs
from service.http.api_description import for_instance
from service.http.responses import JSON


def encoded_document(settings: Settings, token: bool) -> bytes:
    """The document fitted to these settings (`token`: /cache/ needs one)."""
    return orjson.dumps(for_instance(settings, token))


@needs(OBSERVE)
async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=request.app[appkeys.API_DOCUMENT], content_type=JSON)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/openapi.json", openapi)
