"""The per-request layer: every route's answers timed, its errors JSON, its
token applied; what no route matches answered as aiohttp's router would."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from service.collectors import Metrics
from service.http.access import Guard, needs
from service.http.request_layer import mount_routes


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/nowhere"), ("POST", "/cache/k"), ("DELETE", "/cache/k"), ("HEAD", "/cache/k"),
    ("GET", "/cache/"), ("PATCH", "/health"),
])
async def test_unmatched_answers_as_aiohttps_own_router(method: str, path: str) -> None:
    """The fallback route replaces aiohttp's own 404/405 (which would need a
    middleware to turn into JSON): same status and Allow header as the plain
    router gives for the same routes."""

    @needs(None)
    async def ok(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    plain = web.Application()
    plain.router.add_get("/cache/{key}", ok, allow_head=False)
    plain.router.add_put("/cache/{key}", ok)
    plain.router.add_get("/health", ok)
    declared = web.UrlDispatcher()
    declared.add_get("/cache/{key}", ok, allow_head=False)
    declared.add_put("/cache/{key}", ok)
    declared.add_get("/health", ok)
    ours = web.Application()
    mount_routes(ours, declared, Metrics(), Guard(None, None))
    answers = []
    for app in (plain, ours):
        async with TestClient(TestServer(app)) as client:
            response = await client.request(method, path)
            answers.append((response.status, set(response.headers.get("Allow", "").split(","))))
    assert answers[0] == answers[1]
