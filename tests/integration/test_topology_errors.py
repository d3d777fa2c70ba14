"""Sentinel and Cluster mode with nothing right to talk to (a wrong sentinel
list, an unreachable cluster, a node without cluster mode): a clear
lastError and memory-only service, never a crash."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from scripts.harness.ports import free_port
from scripts.harness.redis_server import RedisServer
from service import appkeys
from tests.support.waiting import eventually

StartClient = Callable[..., Awaitable[TestClient]]


async def _serves_from_memory(client: TestClient, mode: str = "cluster") -> None:
    assert (await client.put("/cache/default/k", data=b"v")).status == 204
    answer = await client.get("/cache/default/k")
    assert (answer.status, answer.headers["X-Cache"]) == (200, "hit-memory")
    assert answer.headers["X-Cache-Degraded"] == "redis-unavailable"
    detailed = await (await client.get("/health/detailed")).json()
    assert detailed["status"] == "degraded"
    assert detailed["checks"]["redis"]["topology"]["mode"] == mode


async def test_a_wrong_sentinel_list_is_a_clear_error(app_client: StartClient) -> None:
    sentinels = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    client = await app_client("redis://127.0.0.1:1", REDIS_SENTINELS=sentinels,
                              REDIS_SENTINEL_MASTER="cachemaster", REDIS_LAZY_CONNECT="false")
    link = client.app[appkeys.LINK]
    await eventually(lambda: link.view.last_error is not None, what="an error")
    assert "cachemaster" in (link.view.last_error or "")
    await _serves_from_memory(client, "sentinel")


async def test_an_unreachable_cluster_is_a_clear_error(app_client: StartClient) -> None:
    nodes = f"127.0.0.1:{free_port()},127.0.0.1:{free_port()}"
    client = await app_client("redis://127.0.0.1:1", REDIS_CLUSTER_NODES=nodes,
                              REDIS_LAZY_CONNECT="false")
    link = client.app[appkeys.LINK]
    await eventually(lambda: link.view.last_error is not None, what="an error")
    assert link.state in ("error", "reconnecting")
    assert "cannot be connected" in (link.view.last_error or "")
    await _serves_from_memory(client)


@pytest.mark.redis
async def test_a_node_without_cluster_mode_is_a_clear_error(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await app_client("redis://127.0.0.1:1", REDIS_LAZY_CONNECT="false",
                              REDIS_CLUSTER_NODES=f"127.0.0.1:{redis_server.port}")
    link = client.app[appkeys.LINK]
    await eventually(lambda: link.view.last_error is not None, what="an error")
    assert "Cluster mode is not enabled" in (link.view.last_error or "")
    await _serves_from_memory(client)
