"""The front door: a plain memory hit is answered before the router, with
the route's token rules, request id and timing; a plainly written request
of another /cache/<namespace>/<segment> route goes straight to that route;
everything else reaches the app's own handler, which answers as if the door
were not there."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request
from multidict import CIMultiDict

from service import appkeys
from service.app import create_app
from service.http import front, hits
from service.http.front import front_door
from tests.conftest import make_settings
from tests.support.app_server import ServiceTestServer

TOKEN = "front-door-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Inner:
    """The app's handler as the door sees it: counts what reaches it."""

    def __init__(self) -> None:
        self.reached: list[str] = []

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        self.reached.append(request.raw_path)
        return web.Response(status=299)


@pytest.fixture
async def client(aiohttp_client) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(make_settings("", CACHE_API_TOKEN=TOKEN, CACHE_NAMESPACES="default,other"))
    client = await aiohttp_client(ServiceTestServer(app))
    entries = {key: {"value": "v"} for key in ("k", "b:c", "..")}
    stored = await client.post("/cache/default/_mset", headers=AUTH, json={"entries": entries})
    assert stored.status == 200, await stored.text()
    assert sorted((await stored.json())["stored"]) == ["..", "b:c", "k"]
    yield client


async def _through(app: web.Application, method: str, path: str,
                   headers: dict[str, str] | None = None) -> tuple[int, Inner]:
    inner = Inner()
    door = front_door(app, inner)
    request = make_mocked_request(method, path, headers=CIMultiDict(headers or {}), app=app)
    response = await door(request)
    return response.status, inner


def _count(app: web.Application, method: str) -> float:
    value = app[appkeys.METRICS].registry.get_sample_value(
        "roleready_http_request_duration_seconds_count",
        {"route": "/cache/{namespace}/{key}", "method": method, "status": "200"},
    )
    return value or 0.0


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_memory_hit_is_answered_at_the_door_and_timed(
    client: TestClient, method: str
) -> None:
    app = client.app
    status, inner = await _through(app, method, "/cache/default/k", AUTH)
    assert (status, inner.reached) == (200, [])
    assert _count(app, method) == 1
    response = await client.request(method, "/cache/default/k",
                                    headers={**AUTH, "X-Request-ID": "door-1"})
    assert response.status == 200
    assert response.headers["X-Request-ID"] == "door-1"
    assert response.headers["X-Cache"] == "hit-memory"
    assert response.headers["Server"] == "roleready-cache"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert await response.read() == (b"v" if method == "GET" else b"")
    assert _count(app, method) == 2


@pytest.mark.parametrize(("method", "path", "headers"), [
    ("POST", "/cache/default/k", AUTH),
    ("GET", "/cache/default/%6b", AUTH),  # percent-encoded: the router decodes
    ("GET", "/cache/default/..", AUTH),  # a dot segment: yarl normalises it
    ("GET", "/cache/default/k/lease", AUTH),
    ("GET", "/cache/default//k", AUTH),
    ("GET", "/cache/default:b/c", AUTH),  # 'default:b:c' is no entry of namespace 'default:b'
    ("GET", "/cache/default/k", {**AUTH, "Expect": "100-continue"}),
    ("GET", "/health", {}),
])
async def test_anything_else_reaches_the_app(
    client: TestClient, method: str, path: str, headers: dict[str, str]
) -> None:
    status, inner = await _through(client.app, method, path, headers)
    assert (status, inner.reached) == (299, [path])


@pytest.mark.parametrize(("path", "headers", "status"), [
    ("/cache/default/absent", AUTH, 404),  # a miss
    ("/cache/default/k", {}, 401),  # no token
    ("/cache/default/k?lease=2", AUTH, 400),
    ("/cache/default/k", {**AUTH, "If-None-Match": '"x"'}, 200),  # not its ETag
])
async def test_an_entry_the_door_does_not_answer_goes_straight_to_its_route(
    client: TestClient, path: str, headers: dict[str, str], status: int
) -> None:
    """The route's handler answers it, as if the router had matched it."""
    answered, inner = await _through(client.app, "GET", path, headers)
    assert (answered, inner.reached) == (status, [])


async def test_the_app_answers_what_the_door_declines_as_the_router_would(
    client: TestClient,
) -> None:
    assert (await client.get("/cache/default/k")).status == 401
    assert (await client.get("/cache/default:b/c", headers=AUTH)).status == 404
    assert (await client.get("/cache/default/%6b", headers=AUTH)).status == 200
    bad = await client.get("/cache/default/k?lease=2", headers=AUTH)
    assert (bad.status, (await bad.json())["error"]) == (400, "bad_lease")


async def test_a_failing_lookup_is_logged_and_the_app_answers(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(namespace: str, key: str) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(client.app[appkeys.CACHE], "get_memory", boom)
    status, inner = await _through(client.app, "GET", "/cache/default/k", AUTH)
    assert (status, inner.reached) == (299, ["/cache/default/k"])
    assert "unhandled error on GET /cache/default/k" in caplog.text


def test_there_is_no_door_with_tracing_on() -> None:
    app = create_app(make_settings(""))
    app[appkeys.TRACING] = object()  # type: ignore[assignment]
    inner = Inner()
    assert front_door(app, inner) is inner


@pytest.mark.parametrize(("path", "read"), [
    ("/cache/default/k", ("default", "k")),
    ("/cache/default/job:42", ("default", "job:42")),
    ("/cache/default/a.b~c-d_e", ("default", "a.b~c-d_e")),
    ("/cache/other/k?lease=1", ("other", "k")),
    ("/cache/default/.k", ("default", ".k")),
    ("/cache/default/k..", ("default", "k..")),
    ("/cache/default/_mget", ("default", "_mget")),
    ("/cache/a/b/c", None), ("/cache/default/", None), ("/cache//k", None),
    ("/cache/default/%6b", None), ("/cache/./k", None), ("/cache/default/.", None),
])
async def test_the_door_reads_a_path_as_the_router_does(
    client: TestClient, path: str, read: tuple[str, str] | None
) -> None:
    """Where the door takes a path as (namespace, key), aiohttp's router
    sends the same GET to the entry route with the same values."""
    assert front._entry_of(path) == read
    if read is not None:
        app = client.app
        match = await app.router.resolve(make_mocked_request("GET", path, app=app))
        assert match.route.resource is not None
        assert match.route.resource.canonical == "/cache/{namespace}/{key}"
        assert (match["namespace"], match["key"]) == read


@pytest.mark.parametrize("if_none_match", ['"x"', "*"])
async def test_a_conditional_hit_is_counted_once(client: TestClient, if_none_match: str) -> None:
    """The door leaves it to the handler without looking it up first."""
    stats = client.app[appkeys.CACHE].stats
    before = stats.memory_hits
    got = await client.get("/cache/default/k", headers={**AUTH, "If-None-Match": if_none_match})
    assert got.status == (200 if if_none_match == '"x"' else 304)
    assert stats.memory_hits == before + 1


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "POST", "PATCH"])
@pytest.mark.parametrize("segment", ["k", "_mget", "_mset", "_mdelete", "_invalidate", "_purge"])
async def test_the_door_takes_each_method_to_the_route_the_router_would(
    client: TestClient, method: str, segment: str
) -> None:
    app = client.app
    path = f"/cache/default/{segment}"
    entry, named = front._routes(app)
    chosen = entry.get(method) or named.get((method, segment))
    match = await app.router.resolve(make_mocked_request(method, path, app=app))
    resource = match.route.resource
    assert resource is not None
    if chosen is None:  # the router's fallback: 405 or 404
        assert resource.canonical not in {"/cache/{namespace}/{key}", path}
    else:
        assert match.route is chosen


@pytest.mark.parametrize(("method", "path", "body", "status"), [
    ("PUT", "/cache/default/new", b"v", 204),
    ("DELETE", "/cache/default/k", None, 204),
    ("POST", "/cache/default/_mget", b'{"keys": ["k", "absent"]}', 200),
    ("POST", "/cache/default/_mdelete", b'{"keys": ["k"]}', 200),
])
async def test_a_request_the_door_routes_keeps_its_route_s_layer(
    client: TestClient, method: str, path: str, body: bytes | None, status: int
) -> None:
    """Taken to its route by the door (not to the app's handler, which
    answers 299 here): its token rule, request id and timing as through
    the router."""
    app = client.app
    assert (await _through(app, method, path))[0] == 401
    response = await client.request(method, path, data=body,
                                    headers={**AUTH, "X-Request-ID": "door-2"})
    assert response.status == status, await response.text()
    assert response.headers["X-Request-ID"] == "door-2"
    assert response.headers["Server"] == "roleready-cache"
    route = "/cache/{namespace}/{key}" if path.count("/") == 3 and "_m" not in path \
        else path.replace("default", "{namespace}")
    timed = app[appkeys.METRICS].registry.get_sample_value(
        "roleready_http_request_duration_seconds_count",
        {"route": route, "method": method, "status": str(status)})
    assert timed == 1


async def test_a_large_memory_hit_is_counted_once(client: TestClient) -> None:
    """Over 64 KiB the door leaves it to the handler (a write timeout and
    the byte budget), which counts the hit: once, not once a look."""
    large = b"L" * (hits.LARGE_ANSWER_BYTES + 1)
    assert (await client.put("/cache/default/large", data=large, headers=AUTH)).status == 204
    stats = client.app[appkeys.CACHE].stats
    before = stats.memory_hits
    got = await client.get("/cache/default/large", headers=AUTH)
    assert (got.status, got.headers["X-Cache"], await got.read()) == (200, "hit-memory", large)
    assert stats.memory_hits == before + 1
