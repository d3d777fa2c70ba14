"""An error reply that leaves the link up (OOM under `noeviction`, NOREPLICAS)
does not strand the outbox: it is retried on the backoff policy's timer
while the link stays ready, not only at a reconnect (which never comes
here); a write refused for lack of memory is deleted instead."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest
import redis as redis_py
from aiohttp.test_utils import TestClient

from scripts.harness.redis_cluster import LocalCluster
from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, http_get
from scripts.harness.waiting import wait_for
from service import appkeys
from tests.conftest import FAST_LINK_ENV
from tests.integration.test_outbox_restart import REDIS_KEY, link_state, request, wait_ready
from tests.support.waiting import eventually, ready_client

StartService = Callable[..., ServiceProcess]
FILLER = b"x" * 1024
REFUSED_LINE = "refused for lack of memory"


def fill_until_oom(client: redis_py.Redis) -> None:
    """Writes until Redis refuses one; then maxmemory is pinned a little
    below what it holds, so that it stays full whatever buffers come and go
    (at the refusal, memory at rest may be just under the limit)."""
    for i in range(100_000):
        try:
            client.set(f"filler:{i}", FILLER)
        except redis_py.exceptions.OutOfMemoryError:
            used = int(client.info("memory")["used_memory"])
            client.config_set("maxmemory", used - 64 * 1024)
            return
    raise AssertionError("Redis never ran out of memory")


@pytest.mark.parametrize("mode", ["write", "delete"])
def test_a_write_refused_with_oom_is_deleted_without_a_reconnect(
    service_process: StartService, redis_factory: Callable[..., RedisServer], mode: str,
) -> None:
    """DEL is allowed while Redis is out of memory: the stranded PUT is
    replayed as one under `delete`, and under `write` too once Redis refuses
    its SET (tests/integration/test_outbox_oom.py: the same at a connect)."""
    redis = redis_factory("--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
    client = redis.client()
    service = service_process(**FAST_LINK_ENV, REDIS_URL=redis.url, CACHE_OUTAGE_REPLAY=mode)
    wait_ready(service)
    assert request(service, "PUT", "/cache/default/k", b"old")[1]["X-Cache-Stored"] == "redis"
    fill_until_oom(client)
    status, headers = request(service, "PUT", "/cache/default/k", b"new")
    assert (status, headers["X-Cache-Stored"]) == (204, "memory")
    assert link_state(service) == "ready"  # an OOM reply does not drop the link

    wait_for(lambda: not client.exists(REDIS_KEY.format("k")), timeout=5,
             what="the stranded PUT replayed as DEL")
    # Under `write` the refusal is said once (with how many keys it cost).
    assert service.log().count(REFUSED_LINE) == (1 if mode == "write" else 0)
    _, body = http_get(service.base_url + "/health/detailed")
    assert json.loads(body)["checks"]["cache"]["redis"]["reconnects"] == 0
    _, events = http_get(service.base_url + "/health/events")
    assert b"Disconnected" not in events and b"oom" in events.lower()
    assert service.terminate() == 0


def test_a_write_refused_for_want_of_replicas_is_applied_once_redis_takes_it(
    service_process: StartService, redis_factory: Callable[..., RedisServer],
) -> None:
    """A refusal that DEL meets too (NOREPLICAS: min-replicas-to-write, no
    replica) leaves the write owed; the timer applies it once Redis takes
    writes again, still without a reconnect."""
    redis = redis_factory()
    client = redis.client()
    service = service_process(**FAST_LINK_ENV, REDIS_URL=redis.url, CACHE_OUTAGE_REPLAY="write")
    wait_ready(service)
    assert request(service, "PUT", "/cache/default/k", b"old")[1]["X-Cache-Stored"] == "redis"
    client.config_set("min-replicas-to-write", "1")
    status, headers = request(service, "PUT", "/cache/default/k", b"new")
    assert (status, headers["X-Cache-Stored"]) == (204, "memory")

    def in_redis() -> bytes | None:
        raw = client.get(REDIS_KEY.format("k"))
        return None if raw is None else bytes(raw)[-3:]

    assert in_redis() == b"old"  # refused: neither SET nor DEL is taken
    client.config_set("min-replicas-to-write", "0")
    wait_for(lambda: in_redis() == b"new", timeout=5, what="the stranded PUT applied")
    assert link_state(service) == "ready"
    _, body = http_get(service.base_url + "/health/detailed")
    assert json.loads(body)["checks"]["cache"]["redis"]["reconnects"] == 0
    assert service.terminate() == 0


async def test_in_a_cluster_the_master_that_refused_gets_its_write_later(
    app_client: Callable[..., Awaitable[TestClient]], redis_cluster: LocalCluster,
) -> None:
    """The timer replays each master's own keys through that master: one
    out of memory strands only its keys, and gets them once it has room."""
    app = await ready_client(app_client, "redis://127.0.0.1:1", CACHE_OUTAGE_REPLAY="write",
                             REDIS_CLUSTER_NODES=redis_cluster.seeds)
    keys: dict[int, str] = {}
    for i in range(100):
        keys.setdefault(redis_cluster.master_for(REDIS_KEY.format(f"k{i}")).port, f"k{i}")
    (full, full_key), (_, other_key) = list(keys.items())[:2]
    for key in (full_key, other_key):
        assert (await app.put(f"/cache/default/{key}", data=b"old")).headers[
            "X-Cache-Stored"] == "redis"
    full_node = redis_cluster.node_client(next(m for m in redis_cluster.masters if m.port == full))
    # NOREPLICAS (it has one replica): a refusal that DEL meets too, so the
    # write stays owed (an OOM one is deleted at once: the test above).
    full_node.config_set("min-replicas-to-write", "2")
    stored = [(await app.put(f"/cache/default/{key}", data=b"new")).headers["X-Cache-Stored"]
              for key in (full_key, other_key)]
    assert stored == ["memory", "redis"]
    cluster = redis_cluster.client()

    def in_redis(key: str) -> bytes:
        return bytes(cluster.get(REDIS_KEY.format(key)) or b"")[-3:]

    assert in_redis(full_key) == b"old"
    full_node.config_set("min-replicas-to-write", "0")
    await eventually(lambda: in_redis(full_key) == b"new", timeout=5, what="the stranded PUT")
    assert app.app[appkeys.LINK].view.reconnects_total == 0
