"""Health, readiness, events and metrics through Redis up, down, hung, back."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.cache.memory import entry_size
from tests.support.waiting import eventually, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]

# The guide's example response, verbatim.
GUIDE_EXAMPLE: dict[str, Any] = {
    "status": "healthy",
    "checks": {
        "redis": {
            "status": "healthy",
            "responseTime": "5ms",
            "memoryUsed": "2.5M",
            "connectionStatus": "ready",
            "reconnectAttempts": 0,
            "lastError": None,
            "lastErrorTime": None,
        },
        "cache": {
            "memory": {"entries": 245, "capacity": 1000, "utilizationPercent": "24.50"},
            "redis": {
                "enabled": True,
                "status": "ready",
                "hits": 1523,
                "misses": 342,
                "errors": 0,
                "reconnects": 0,
                "hitRate": "81.65%",
            },
        },
    },
}


def _same_shape(expected: Any, actual: Any, path: str = "$") -> None:
    """Every key of the guide is present with the same JSON type."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), path
        for key, value in expected.items():
            assert key in actual, f"{path}.{key} missing"
            _same_shape(value, actual[key], f"{path}.{key}")
    elif expected is not None:
        assert type(actual) is type(expected), f"{path}: {actual!r}"


async def _detailed(client: TestClient) -> dict[str, Any]:
    response = await client.get("/health/detailed", timeout=aiohttp.ClientTimeout(total=3))
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def _probes_stay_up(client: TestClient) -> None:
    assert (await client.get("/health")).status == 200
    assert (await client.get("/health/ready")).status == 200
    assert (await client.get("/api/status")).status == 200


async def test_document_matches_the_guide_with_redis_up(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    await client.put("/cache/default/a", data=b"1")
    for path in ("/cache/default/a", "/cache/default/a", "/cache/default/a", "/cache/default/b"):
        await client.get(path)
    body = await _detailed(client)
    _same_shape(GUIDE_EXAMPLE, body)
    redis = body["checks"]["redis"]
    assert body["status"] == "healthy" and redis["status"] == "healthy"
    assert re.fullmatch(r"\d+ms", redis["responseTime"])
    assert re.fullmatch(r"\d+(\.\d+)?[BKMG]", redis["memoryUsed"])
    assert (redis["connectionStatus"], redis["lastError"], redis["lastErrorTime"]) == ("ready", None, None)
    assert redis["topology"] == {"mode": "single", "master": f"127.0.0.1:{redis_server.port}"}
    cache = body["checks"]["cache"]
    assert cache["memory"] == {
        "entries": 1, "capacity": 1000, "utilizationPercent": "0.10",
        "bytesUsed": entry_size("default:a", b"1", "application/octet-stream"),
        "maxBytes": 64 * 1024 * 1024,
    }
    assert cache["redis"]["hits"] == 3 and cache["redis"]["misses"] == 1
    assert cache["redis"]["hitRate"] == "75.00%"
    assert cache["redis"]["status"] == "ready" and cache["redis"]["enabled"] is True


async def test_no_traffic_gives_a_zero_hit_rate(app_client: StartClient) -> None:
    body = await _detailed(await app_client(""))
    assert body["checks"]["cache"]["redis"]["hitRate"] == "0.00%"
    assert body["checks"]["cache"]["memory"]["utilizationPercent"] == "0.00"


async def test_memory_only_reports_redis_disabled(app_client: StartClient) -> None:
    body = await _detailed(await app_client(""))
    assert body["status"] == "degraded"
    assert body["checks"]["redis"]["status"] == "unhealthy"
    assert body["checks"]["redis"]["connectionStatus"] == "disconnected"
    assert body["checks"]["cache"]["redis"]["enabled"] is False


async def test_killed_then_restarted_redis(app_client: StartClient, redis_server: RedisServer) -> None:
    client = await ready_client(app_client, redis_server.url)
    redis_server.kill()
    state = await link_state(client.app, "error", "reconnecting", "failed")
    body = await _detailed(client)
    redis = body["checks"]["redis"]
    assert body["status"] == "degraded"
    assert redis["status"] == "unhealthy"
    assert redis["connectionStatus"] in ("error", "reconnecting", "failed")
    assert redis["lastError"]
    assert redis["lastErrorTime"].endswith("Z")
    assert datetime.fromisoformat(redis["lastErrorTime"]).tzinfo is not None
    assert state in ("error", "reconnecting", "failed")
    await _probes_stay_up(client)
    redis_server.restart()
    await link_state(client.app, "ready")
    body = await _detailed(client)
    assert body["status"] == "healthy"
    assert body["checks"]["redis"]["reconnectAttempts"] == 0
    assert body["checks"]["cache"]["redis"]["reconnects"] == 1
    assert body["checks"]["cache"]["redis"]["errors"] >= 1
    await _probes_stay_up(client)


async def test_hung_redis_still_gets_an_answer(app_client: StartClient, redis_server: RedisServer) -> None:
    client = await ready_client(app_client, redis_server.url)
    redis_server.pause()
    try:
        # The probe itself detects the hang: bounded by the command timeout.
        body = await _detailed(client)
        assert body["status"] == "degraded"
        assert body["checks"]["redis"]["status"] == "unhealthy"
        body = await _detailed(client)
        assert body["checks"]["redis"]["connectionStatus"] != "ready"
        await _probes_stay_up(client)
    finally:
        redis_server.resume()
    await link_state(client.app, "ready")
    assert (await _detailed(client))["status"] == "healthy"


async def test_events_show_the_failover_sequence(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    redis_server.kill()
    await link_state(client.app, "reconnecting", "failed")
    redis_server.restart()
    await link_state(client.app, "ready")
    response = await client.get("/health/events")
    body = await response.json()
    assert body["state"] == "ready" and body["dropped"] == 0
    entered = [e["to"] for e in body["events"] if e["from"] != e["to"]]
    assert entered[:4] == ["connecting", "ready", "error", "reconnecting"]
    assert entered[-1] == "ready"
    assert [e["seq"] for e in body["events"]] == sorted(e["seq"] for e in body["events"])
    first = body["events"][0]
    assert {"seq", "type", "at", "from", "to"} <= set(first)
    limited = await (await client.get("/health/events?limit=2")).json()
    assert limited["count"] == 2
    assert limited["events"] == body["events"][-2:]
    for bad in ("0", "-1", "x"):
        refused = await client.get(f"/health/events?limit={bad}")
        assert refused.status == 400
        assert (await refused.json())["error"] == "bad_limit"


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def _metrics(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return _samples(await response.text())


async def test_metrics_parse_and_move_with_traffic(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    before = await _metrics(client)
    await client.put("/cache/default/m", data=b"1")
    await client.get("/cache/default/m")
    await client.get("/cache/default/none")
    after = await _metrics(client)

    def delta(name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return after[key] - before.get(key, 0.0)

    assert delta("roleready_cache_hits_total", tier="memory") == 1
    assert delta("roleready_cache_misses_total", tier="redis") == 1
    assert delta("roleready_cache_lookups_total", result="miss") == 1
    assert delta("roleready_cache_sets_total") == 1
    assert after[("roleready_redis_up", ())] == 1
    assert after[("roleready_redis_connection_state", (("roleready_redis_connection_state", "ready"),))] == 1
    assert after[("roleready_redis_connection_state", (("roleready_redis_connection_state", "error"),))] == 0
    assert after[("roleready_memory_cache_entries", ())] == 1
    assert after[("roleready_memory_cache_capacity", ())] == 1000
    assert after[("roleready_redis_used_memory_bytes", ())] > 0
    assert ("roleready_redis_maxmemory_bytes", ()) in after
    assert after[("roleready_redis_topology_info", (("mode", "single"),))] == 1
    assert after[("roleready_redis_node_up", (("node", f"127.0.0.1:{redis_server.port}"),))] == 1
    route = (("method", "GET"), ("route", "/cache/{namespace}/{key}"), ("status", "200"))
    assert after[("roleready_http_request_duration_seconds_count", route)] == 1

    redis_server.kill()
    lifecycle = client.app[appkeys.LINK].lifecycle
    await eventually(lambda: lifecycle.view.reconnect_attempts >= 1, what="a reconnect attempt")
    down = await _metrics(client)
    assert down[("roleready_redis_up", ())] == 0
    assert down[("roleready_redis_errors_total", ())] >= 1
    assert down[("roleready_redis_reconnect_attempts", ())] >= 1
    assert not any(name == "roleready_redis_node_up" for name, _ in down)  # no master now
    redis_server.restart()
    await link_state(client.app, "ready")
    back = await _metrics(client)
    assert back[("roleready_redis_reconnects_total", ())] == 1


async def test_first_health_check_of_a_lazy_link_connects_it(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await app_client(redis_server.url)  # REDIS_LAZY_CONNECT defaults to true
    assert client.app[appkeys.LINK].lifecycle.state == "disconnected"
    body = await _detailed(client)
    assert body["status"] == "healthy"
    assert body["checks"]["redis"]["connectionStatus"] == "ready"


async def test_memory_only_health_check_does_not_wait_for_a_connect(
    app_client: StartClient,
) -> None:
    client = await app_client("")
    link = client.app[appkeys.LINK]
    # A 10 s allowance that must not be used: there is nothing to connect to.
    await asyncio.wait_for(link.first_connect(10.0), timeout=2.0)
    assert link.session() is None
