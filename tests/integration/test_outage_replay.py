"""Writes and deletes made while Redis was unreachable are not undone when it
returns: the outbox is applied at reconnect, before the link is ready, and
the change reaches the other instance's memory as an invalidation.

Redis keeps its data across the kill (AOF, fsync always), as a production
Redis would, so the value from before the outage is still in it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from statemachine.events import OutboxReplayed
from tests.support.waiting import eventually_async, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
NOT_READY = ("error", "reconnecting", "failed")
DURABLE = ("--appendonly", "yes", "--appendfsync", "always")


async def _serves(client: TestClient, path: str, allowed: set[bytes | None]) -> None:
    """Within 2 s, `path` answers one of `allowed` (None: a miss)."""

    async def check() -> bool:
        response = await client.get(path)
        body = await response.read() if response.status == 200 else None
        return body in allowed

    await eventually_async(check, timeout=2.0, what=f"{path} in {allowed}")


def _replays(client: TestClient) -> list[OutboxReplayed]:
    events = client.app[appkeys.LINK].lifecycle.journal.events()
    return [e for e in events if isinstance(e, OutboxReplayed)]


async def _cut_off(client: TestClient) -> None:
    await client.get("/cache/default/probe-the-dead-link")
    await link_state(client.app, *NOT_READY)


async def _both_ready(*clients: TestClient) -> None:
    for client in clients:
        await link_state(client.app, "ready")


@pytest.mark.parametrize("fault", ["kill", "pause"])
async def test_an_outage_delete_and_write_are_not_undone(
    app_client: StartClient, redis_factory: Callable[..., RedisServer], fault: str
) -> None:
    redis = redis_factory(*DURABLE)
    a = await ready_client(app_client, redis.url)
    b = await ready_client(app_client, redis.url)
    await a.put("/cache/default/k", data=b"v2")
    await a.put("/cache/default/j", data=b"old")
    for path in ("/cache/default/k", "/cache/default/j"):
        await b.get(path)  # b holds both in memory
    redis.kill() if fault == "kill" else redis.pause()
    try:
        await _cut_off(a)
        deleted = await a.delete("/cache/default/k")
        written = await a.put("/cache/default/j", data=b"w")
        for answer in (deleted, written):
            assert answer.headers["X-Cache-Stored"] == "memory"
    finally:
        redis.restart() if fault == "kill" else redis.resume()
    await _both_ready(a, b)
    await _serves(b, "/cache/default/k", {None})
    await _serves(b, "/cache/default/j", {None, b"w"})  # never "old"
    await _serves(a, "/cache/default/j", {None, b"w"})
    (replay,) = _replays(a)
    assert (replay.keys, replay.overflow) == (2, False)
    assert len(a.app[appkeys.CACHE].outbox or ()) == 0


async def test_write_mode_puts_the_outage_value_back(
    app_client: StartClient, redis_factory: Callable[..., RedisServer]
) -> None:
    redis = redis_factory(*DURABLE)
    a = await ready_client(app_client, redis.url, CACHE_OUTAGE_REPLAY="write")
    b = await ready_client(app_client, redis.url)
    await a.put("/cache/default/j", data=b"old")
    assert (await b.get("/cache/default/j")).status == 200
    redis.kill()
    await _cut_off(a)
    await a.put("/cache/default/j", data=b"w")
    redis.restart()
    await _both_ready(a, b)
    await _serves(b, "/cache/default/j", {b"w"})


async def test_an_overflowing_outbox_sweeps_the_namespaces_written(
    app_client: StartClient, redis_factory: Callable[..., RedisServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    redis = redis_factory(*DURABLE)
    a = await ready_client(app_client, redis.url, CACHE_OUTBOX_MAX_KEYS="3")
    b = await ready_client(app_client, redis.url)
    for i in range(5):
        await a.put(f"/cache/default/k{i}", data=b"old")
    await a.put("/cache/ats_score/untouched", data=b"kept")
    redis.kill()
    await _cut_off(a)
    with caplog.at_level(logging.WARNING, logger="roleready.cache"):
        for i in range(5):
            await a.put(f"/cache/default/k{i}", data=b"new")
    assert sum("outbox overflowed" in r.getMessage() for r in caplog.records) == 1
    redis.restart()
    await _both_ready(a, b)
    for i in range(5):
        await _serves(b, f"/cache/default/k{i}", {None})  # never "old"
    await _serves(b, "/cache/ats_score/untouched", {b"kept"})
    (replay,) = _replays(a)
    assert (replay.overflow, replay.swept_namespaces) == (True, ("default",))
    assert replay.swept_keys == 5
    assert a.app[appkeys.LINK].lifecycle.view.outbox_overflows_total == 1
    coherence = (await (await a.get("/health/detailed")).json())["checks"]["cache"]["coherence"]
    assert (coherence["replays"], coherence["outboxOverflows"], coherence["outboxKeys"]) == (1, 1, 0)
    metrics = await (await a.get("/metrics")).text()
    assert "roleready_redis_outbox_overflows_total 1.0" in metrics


async def test_a_fresh_lazy_service_keeps_its_first_writes(
    app_client: StartClient, redis_factory: Callable[..., RedisServer]
) -> None:
    redis = redis_factory()
    a = await app_client(redis.url)  # lazy: the first PUT starts the connect
    first = await a.put("/cache/default/first", data=b"v")
    assert first.headers["X-Cache-Stored"] == "memory"
    await link_state(a.app, "ready")
    got = await a.get("/cache/default/first")
    assert (got.headers["X-Cache"], await got.read()) == ("hit-memory", b"v")
    b = await ready_client(app_client, redis.url)
    got = await b.get("/cache/default/first")  # written to Redis at the first connect
    assert (got.headers["X-Cache"], await got.read()) == ("hit-redis", b"v")
