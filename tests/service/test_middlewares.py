"""The per-request layer: a handler's fast path answers first, or hands over;
either way the answer is timed, errors become JSON, and the token applies."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from service.metrics import Metrics
from service.middlewares import fast_path, mount_routes


def _app(token: str | None = None) -> tuple[web.Application, Metrics, list[str]]:
    calls: list[str] = []

    def quick(request: web.Request) -> web.Response | None:
        calls.append("fast")
        if request.match_info["key"] == "boom":
            raise RuntimeError("secret detail")
        return web.Response(text="fast") if request.match_info["key"] == "hot" else None

    @fast_path(quick)
    async def handler(request: web.Request) -> web.Response:
        calls.append("handler")
        return web.Response(text="slow")

    declared = web.UrlDispatcher()
    declared.add_get("/cache/{key}", handler, allow_head=False)
    metrics = Metrics()
    app = web.Application()
    mount_routes(app, declared, metrics, token)
    return app, metrics, calls


def _count(metrics: Metrics, status: str) -> float:
    value = metrics.registry.get_sample_value(
        "roleready_http_request_duration_seconds_count",
        {"route": "/cache/{key}", "method": "GET", "status": status},
    )
    return value or 0.0


async def test_fast_path_answers_without_the_handler_and_is_timed() -> None:
    app, metrics, calls = _app()
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/cache/hot")
        assert (response.status, await response.text()) == (200, "fast")
        assert calls == ["fast"]
        assert _count(metrics, "200") == 1


async def test_handler_answers_when_the_fast_path_declines() -> None:
    app, metrics, calls = _app()
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/cache/cold")
        assert (response.status, await response.text()) == (200, "slow")
        assert calls == ["fast", "handler"]
        assert _count(metrics, "200") == 1


async def test_a_failing_fast_path_is_a_json_500_without_internals() -> None:
    app, metrics, _ = _app()
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/cache/boom")
        assert response.status == 500
        body = await response.json()
        assert body["error"] == "internal" and "secret" not in str(body)
        assert _count(metrics, "500") == 1


async def test_token_is_checked_before_the_fast_path() -> None:
    app, metrics, calls = _app(token="tok")
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/cache/hot")).status == 401
        assert calls == []
        assert _count(metrics, "401") == 1
        ok = await client.get("/cache/hot", headers={"Authorization": "Bearer tok"})
        assert ok.status == 200 and calls == ["fast"]
