"""/health/detailed as application/health+json (draft-inadarei-api-health-check)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import __version__, appkeys
from service.build import build
from tests.integration.test_health import GUIDE_EXAMPLE, StartClient, _detailed, _same_shape
from tests.support.waiting import link_state, ready_client

ASK = {"Accept": "application/health+json"}
CHECKS = {"redis:connection", "redis:responseTime", "redis:memoryUsage",
          "memoryCache:utilization", "cache:hitRate"}


async def _health_json(client: TestClient) -> dict[str, Any]:
    response = await client.get("/health/detailed", headers=ASK)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/health+json"
    assert response.headers["Vary"] == "Accept"
    body: dict[str, Any] = await response.json(content_type="application/health+json")
    for key, elements in body["checks"].items():
        assert isinstance(elements, list) and elements, key
        for element in elements:
            assert element["status"] in ("pass", "warn"), key
            assert element["componentType"] in ("datastore", "component"), key
            assert datetime.fromisoformat(element["time"]).tzinfo is not None, key
            assert ("observedUnit" in element) <= ("observedValue" in element), key
    return body


def _one(body: dict[str, Any], key: str) -> dict[str, Any]:
    [element] = body["checks"][key]
    assert isinstance(element, dict)
    return element


async def test_redis_up_passes_and_the_default_document_is_the_guides(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    await client.put("/cache/default/a", data=b"1")
    await client.get("/cache/default/a")
    body = await _health_json(client)
    assert body["status"] == "pass"
    assert (body["version"], body["releaseId"], body["serviceId"]) == (
        __version__, __version__, "roleready-cache")
    assert body["description"] == build().description
    assert "notes" not in body and "output" not in body
    assert set(body["checks"]) == CHECKS
    connection = _one(body, "redis:connection")
    assert (connection["observedValue"], connection["status"]) == ("ready", "pass")
    assert connection["componentId"] == f"127.0.0.1:{redis_server.port}"
    response_time = _one(body, "redis:responseTime")
    assert response_time["observedUnit"] == "ms" and 0 <= response_time["observedValue"] < 250
    memory = _one(body, "redis:memoryUsage")
    assert memory["observedUnit"] == "bytes" and memory["observedValue"] > 0
    utilization = _one(body, "memoryCache:utilization")
    assert (utilization["observedValue"], utilization["observedUnit"]) == (0.1, "percent")
    assert _one(body, "cache:hitRate")["observedValue"] == 100.0
    # Without the media type (or asking for JSON) the guide's document, as before.
    for headers in ({}, {"Accept": "application/json"}, {"Accept": "*/*"}):
        response = await client.get("/health/detailed", headers=headers)
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Vary"] == "Accept"
        _same_shape(GUIDE_EXAMPLE, await response.json())
    assert (await _detailed(client))["status"] == "healthy"


async def test_redis_down_warns_and_still_answers_200(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    redis_server.kill()
    state = await link_state(client.app, "error", "reconnecting", "failed")
    body = await _health_json(client)
    assert body["status"] == "warn"
    assert body["notes"][0].startswith("Redis is not ready (")
    assert body["output"]
    connection = _one(body, "redis:connection")
    assert connection["status"] == "warn" and connection["output"]
    assert connection["observedValue"] in ("error", "reconnecting", "failed")
    assert state in ("error", "reconnecting", "failed")
    for key in ("redis:responseTime", "redis:memoryUsage"):
        element = _one(body, key)
        assert element["status"] == "warn" and "observedValue" not in element
    assert _one(body, "memoryCache:utilization")["status"] == "pass"
    assert (await _detailed(client))["status"] == "degraded"  # the guide's word, unchanged
    redis_server.restart()
    await link_state(client.app, "ready")
    assert (await _health_json(client))["status"] == "pass"


async def test_memory_only_passes_and_draining_warns(app_client: StartClient) -> None:
    client = await app_client("")
    body = await _health_json(client)
    assert body["status"] == "pass"
    assert set(body["checks"]) == {"redis:connection", "memoryCache:utilization", "cache:hitRate"}
    assert _one(body, "redis:connection")["observedValue"] == "disabled"
    client.app[appkeys.READINESS].start_draining()
    body = await _health_json(client)
    assert body["status"] == "warn" and body["notes"][0].startswith("Draining")
