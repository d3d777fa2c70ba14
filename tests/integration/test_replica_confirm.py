"""Acknowledged means replicated, or still held (service.cache.unconfirmed,
service.link.confirmer), against real processes.

- Sentinel: writes the master acknowledged while it had no replica in sync
  are held; the master dies, the sentinels promote the replica that lacks
  them, and at the reconnect they are replayed (deleted): the older value
  and the deleted value do not come back. Before held writes existed, the
  promoted replica served both again (`hit-redis`).
- A single Redis without replicas settles writes on reply: nothing is held.
- The same Redis with a replica holds them until the replica confirms.
- Cluster: each master confirms its own keys; a master's failover replays
  the keys its replica had not confirmed, on the promoted replica.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from scripts.harness.redis_cluster import LocalCluster
from scripts.harness.redis_server import RedisServer, RedisServers
from scripts.harness.sentinel import SentinelSetup, replica_in_sync
from scripts.harness.waiting import wait_for
from service import appkeys
from service.cache.unconfirmed import Unconfirmed
from statemachine.events import OutboxReplayed
from tests.support.waiting import eventually, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
KEY = "roleready:default:{}"


def _held(client: TestClient) -> Unconfirmed:
    held = client.app[appkeys.CACHE].unconfirmed
    assert held is not None
    return held


async def _health_unconfirmed(client: TestClient) -> dict[str, object]:
    answer = await client.get("/health/detailed")
    unconfirmed: dict[str, object] = (await answer.json())["checks"]["redis"]["unconfirmed"]
    return unconfirmed


async def test_writes_no_replica_confirmed_are_not_undone_by_a_failover(
    app_client: StartClient, sentinel_setup: SentinelSetup, caplog: pytest.LogCaptureFixture
) -> None:
    master, replica = sentinel_setup.master, sentinel_setup.replica
    env = sentinel_setup.env()
    a = await ready_client(app_client, env.pop("REDIS_URL"), **env)
    assert (await a.put("/cache/default/kept", data=b"older")).status == 204
    assert (await a.put("/cache/default/gone", data=b"deleted")).status == 204
    await eventually(lambda: len(_held(a)) == 0, what="the replica to confirm both")
    # The replica stops replicating (as a demoted master that was not yet
    # reconfigured leaves a new master without one): nothing confirms now.
    with replica.client() as direct:
        direct.execute_command("REPLICAOF", "NO", "ONE")
    put = await a.put("/cache/default/kept", data=b"newer")
    deleted = await a.delete("/cache/default/gone")
    assert put.headers["X-Cache-Stored"] == deleted.headers["X-Cache-Stored"] == "redis"
    await asyncio.sleep(0.3)  # rounds of SET + WAIT on a replica-less master: still held
    assert len(_held(a)) == 2
    shown = await _health_unconfirmed(a)
    assert shown["count"] == 2 and isinstance(shown["oldestAgeMs"], int)
    assert shown["oldestAgeMs"] >= 250
    metrics = await (await a.get("/metrics")).text()
    assert "roleready_cache_unconfirmed_keys 2.0" in metrics
    link = a.app[appkeys.LINK]
    with caplog.at_level(logging.WARNING, logger="roleready.redis"):
        master.kill()
        await eventually(lambda: link.is_ready() and link.view.reconnects_total >= 1,
                         timeout=20, what="ready on the promoted replica")
    assert any("2 writes no replica had confirmed were replayed" in r.getMessage()
               for r in caplog.records)
    assert link.topology()["master"] == f"127.0.0.1:{replica.port}"
    for key in ("kept", "gone"):
        got = await a.get(f"/cache/default/{key}")
        assert got.status == 404, (key, got.headers.get("X-Cache"), await got.read())
    with replica.client() as direct:  # what every other instance would read
        assert direct.get(KEY.format("kept")) is None
        assert direct.get(KEY.format("gone")) is None
    replays = [e for e in link.lifecycle.journal.events(100) if isinstance(e, OutboxReplayed)]
    assert [e.unconfirmed for e in replays] == [2]
    # The replayed DELs are writes to a master without a replica: held again.
    assert len(_held(a)) == 2


async def test_a_single_redis_without_replicas_settles_writes_on_reply(
    app_client: StartClient, redis_servers: RedisServers
) -> None:
    server = redis_servers.start()
    a = await ready_client(app_client, server.url)
    held = _held(a)
    for i in range(20):
        assert (await a.put(f"/cache/default/k{i}", data=b"v")).status == 204
    assert (await a.delete("/cache/default/k0")).status == 204
    await asyncio.sleep(0.3)  # the confirmer's first looks at INFO replication
    assert not held.required
    assert len(held) == 0 and held.confirmed_total == 0
    assert (await _health_unconfirmed(a))["count"] == 0
    off = await ready_client(app_client, server.url, REDIS_REPLICA_CONFIRM="off")
    assert off.app[appkeys.CACHE].unconfirmed is None
    assert (await _health_unconfirmed(off)) == {
        "enabled": False, "required": False, "count": 0, "oldestAgeMs": None}


async def _client_of_a_master_with_a_replica(
    app_client: StartClient, redis_servers: RedisServers
) -> tuple[RedisServer, RedisServer, TestClient, Unconfirmed]:
    """A single REDIS_URL whose master has a replica in sync, and a client
    whose confirmer has seen the replica (its writes are held from here on)."""
    server = redis_servers.start()
    replica = redis_servers.start("--replicaof", "127.0.0.1", str(server.port))
    wait_for(lambda: replica_in_sync(replica), what="the replica in sync")
    client = await ready_client(app_client, server.url)
    held = _held(client)
    await eventually(lambda: held.required, what="the confirmer to see the replica")
    return server, replica, client, held


async def test_a_single_redis_with_a_replica_holds_writes_until_it_confirms(
    app_client: StartClient, redis_servers: RedisServers
) -> None:
    _, replica, a, held = await _client_of_a_master_with_a_replica(app_client, redis_servers)
    replica.pause()  # SIGSTOP: it acknowledges nothing
    try:
        for i in range(5):
            assert (await a.put(f"/cache/default/k{i}", data=b"v")).status == 204
        await asyncio.sleep(0.3)
        assert held.required and len(held) == 5
    finally:
        replica.resume()
    await eventually(lambda: len(held) == 0, what="the resumed replica to confirm")
    assert held.confirmed_total >= 5


async def test_writes_still_held_at_shutdown_are_applied_as_outage_writes(
    app_client: StartClient, redis_servers: RedisServers
) -> None:
    """A write no replica confirmed would come back older after a failover
    that happens once this process is gone: the shutdown applies it as an
    outage write (deleted, CACHE_OUTAGE_REPLAY's default) while Redis answers."""
    server, replica, a, held = await _client_of_a_master_with_a_replica(app_client, redis_servers)
    assert (await a.put("/cache/default/kept", data=b"confirmed")).status == 204
    await eventually(lambda: len(held) == 0, what="the replica to confirm the first write")
    replica.pause()  # SIGSTOP: it acknowledges nothing from here on
    try:
        assert (await a.put("/cache/default/owed", data=b"unconfirmed")).status == 204
        assert len(held) == 1
        await a.close()  # the app's cleanup: the shutdown
        with server.client() as raw:
            assert raw.get(KEY.format("owed")) is None  # a miss, never an older value
            assert raw.get(KEY.format("kept")) is not None  # confirmed: left alone
    finally:
        replica.resume()


async def test_a_cluster_master_confirms_its_own_keys_and_replays_them_after_its_failover(
    app_client: StartClient, redis_cluster: LocalCluster
) -> None:
    a = await ready_client(app_client, "redis://127.0.0.1:1", REDIS_CLUSTER_NODES=redis_cluster.seeds)
    held = _held(a)
    victim = redis_cluster.masters[0]
    mine = [k for k in (f"k{i}" for i in range(60))
            if redis_cluster.master_for(KEY.format(k)).port == victim.port][:5]
    others = [k for k in (f"k{i}" for i in range(60))
              if redis_cluster.master_for(KEY.format(k)).port != victim.port][:5]
    replica = redis_cluster.replica_of(victim)
    replica.pause()  # the victim's replica acknowledges nothing now
    try:
        for key in mine + others:
            assert (await a.put(f"/cache/default/{key}", data=b"new")).status == 204
        # The other masters' replicas confirm their keys; the victim's stay held.
        await eventually(lambda: len(held) == len(mine), what="the others' keys confirmed")
        await asyncio.sleep(0.2)
        assert len(held) == len(mine)
        victim.kill()
    finally:
        replica.resume()
    link = a.app[appkeys.LINK]
    promoted = f"127.0.0.1:{replica.port}"
    await eventually(lambda: link.is_ready() and promoted in link.nodes,
                     timeout=20, what="ready on the victim's promoted replica")
    replays = [e for e in link.nodes[promoted].lifecycle.journal.events(100)
               if isinstance(e, OutboxReplayed)]
    assert sum(e.unconfirmed for e in replays) == len(mine)
    # Replayed on a master whose replica is gone: held again, only those.
    assert len(held) == len(mine)
    for key in mine:  # replayed (deleted: CACHE_OUTAGE_REPLAY's default)
        assert redis_cluster.node_client(replica).get(KEY.format(key)) is None
