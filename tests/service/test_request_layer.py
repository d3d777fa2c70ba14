"""The per-request layer: a handler's fast path answers first, or hands over
to the handler (also when it fails); either way the answer is timed and the
token applies."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict

from service.collectors import Metrics
from service.config.callers import READ
from service.http.access import Guard, needs
from service.http.api_token import FixedToken
from service.http.request_layer import FastAnswer, FastPath, fast_path, mount_routes


def _app(token: str | None = None) -> tuple[web.Application, Metrics, list[str]]:
    calls: list[str] = []

    def quick(request: web.Request) -> FastAnswer | None:
        calls.append("fast")
        if request.match_info["key"] == "boom":
            raise RuntimeError("secret detail")
        if request.match_info["key"] != "hot":
            return None
        return b"fast", CIMultiDict({"Content-Type": "text/plain"})

    @needs(READ)
    @fast_path(lambda app: quick)
    async def handler(request: web.Request) -> web.Response:
        calls.append("handler")
        return web.Response(text="slow")

    declared = web.UrlDispatcher()
    declared.add_get("/cache/{key}", handler, allow_head=False)
    metrics = Metrics()
    app = web.Application()
    mount_routes(app, declared, metrics, Guard(FixedToken(token) if token else None, None))
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
        labels = {"route": "/cache/{key}", "method": "GET", "status": "200"}
        registry = metrics.registry
        seconds = registry.get_sample_value("roleready_http_request_duration_seconds_sum", labels)
        assert seconds is not None and seconds > 0
        first = registry.get_sample_value(
            "roleready_http_request_duration_seconds_bucket", {**labels, "le": "0.0005"}
        )
        assert first == (1 if seconds <= 0.0005 else 0)  # the bucket its duration says


async def test_handler_answers_when_the_fast_path_declines() -> None:
    app, metrics, calls = _app()
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/cache/cold")
        assert (response.status, await response.text()) == (200, "slow")
        assert calls == ["fast", "handler"]
        assert _count(metrics, "200") == 1


async def test_a_failing_fast_path_is_logged_and_the_handler_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, metrics, calls = _app()
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/cache/boom")
        assert (response.status, await response.text()) == (200, "slow")
        assert calls == ["fast", "handler"]
        assert _count(metrics, "200") == 1
    assert "unhandled error on GET /cache/boom" in caplog.text


async def test_token_is_checked_before_the_fast_path() -> None:
    app, metrics, calls = _app(token="tok")
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/cache/hot")).status == 401
        assert calls == []
        assert _count(metrics, "401") == 1
        ok = await client.get("/cache/hot", headers={"Authorization": "Bearer tok"})
        assert ok.status == 200 and calls == ["fast"]


async def test_fast_path_factory_gets_each_app() -> None:
    built_for: list[web.Application] = []

    def factory(app: web.Application) -> FastPath:
        built_for.append(app)
        return lambda request: (str(id(app)).encode(), CIMultiDict())

    @needs(None)
    @fast_path(factory)
    async def handler(request: web.Request) -> web.Response:
        raise AssertionError("the fast path always answers here")

    apps = []
    for _ in range(2):
        declared = web.UrlDispatcher()
        declared.add_get("/x", handler, allow_head=False)
        app = web.Application()
        mount_routes(app, declared, Metrics(), Guard(None, None))
        apps.append(app)
    assert built_for == apps
    async with TestClient(TestServer(apps[1])) as client:
        assert await (await client.get("/x")).text() == str(id(apps[1]))


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
