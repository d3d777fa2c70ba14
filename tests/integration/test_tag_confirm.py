"""An acknowledged tag invalidation is not undone by a failover, nor by a
full Redis at the reconnect (service.cache.tags, service.cache.unconfirmed),
against real processes.

- Sentinel: an invalidation the master acknowledged while its replica had
  stopped replicating is held by the instance that made it; the master dies,
  the sentinels promote the replica, whose tag record is still the one from
  before. At the reconnect the held invalidation is applied again before
  `ready`, so neither an instance that knew the values (and never read the
  record after the invalidation) nor one started after the failover serves
  a value written before it. Before, both served them `hit-redis`.
- A full Redis (`noeviction`) refuses an outage invalidation's script at the
  reconnect: the record is deleted instead (DEL is allowed then), so the
  values it covered are misses. Before, it was dropped with a warning and a
  fresh instance served them.
- A shutdown applies an invalidation still held once more, as it does a
  held write.
- Cluster: the record's master (not the values') confirms the invalidation,
  and its failover applies it again on the promoted replica.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient

from scripts.harness.redis_cluster import LocalCluster
from scripts.harness.redis_server import RedisServer, RedisServers
from scripts.harness.sentinel import SentinelSetup, replica_in_sync
from scripts.harness.waiting import wait_for
from service import appkeys
from service.cache.unconfirmed import Unconfirmed
from tests.conftest import FAST_LINK_ENV
from tests.integration.test_outbox_stranded import fill_until_oom
from tests.support.waiting import eventually, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
TAGS = "X-Cache-Tags"
RECORD = "roleready:~tag:default:t"
KEY = "roleready:default:{}"
CLUSTER_URL = "redis://127.0.0.1:1"  # only credentials and TLS are read from it in cluster mode


def _held(client: TestClient) -> Unconfirmed:
    held = client.app[appkeys.CACHE].unconfirmed
    assert held is not None
    return held


async def _get(client: TestClient, key: str) -> tuple[int, str | None]:
    answer = await client.get(f"/cache/default/{key}")
    return answer.status, answer.headers.get("X-Cache")


async def _invalidate(client: TestClient, tag: str) -> str:
    answer = await client.post("/cache/default/_invalidate", json={"tags": [tag]})
    assert answer.status == 200, await answer.text()
    applied: str = (await answer.json())["appliedIn"]
    return applied


async def test_an_invalidation_no_replica_confirmed_is_not_undone_by_a_failover(
    app_client: StartClient, sentinel_setup: SentinelSetup
) -> None:
    master, replica = sentinel_setup.master, sentinel_setup.replica
    env = sentinel_setup.env()
    url = env.pop("REDIS_URL")
    a, b = [await ready_client(app_client, url, **env) for _ in range(2)]
    for key in ("k", "m"):
        assert (await a.put(f"/cache/default/{key}", data=b"old", headers={TAGS: "t"})).status == 204
    await eventually(lambda: len(_held(a)) == 0, what="the replica to confirm the writes")
    direct = replica.client()
    await eventually(lambda: direct.exists(RECORD, "roleready:default:k") == 2,
                     what="the record and the value on the replica")
    for _ in range(3):  # b knows the record (as it was) and holds k in memory
        assert (await _get(b, "k"))[0] == 200
    # The replica stops replicating (as while a demoted master is not yet
    # reconfigured): the invalidation is acknowledged by the master alone.
    direct.execute_command("REPLICAOF", "NO", "ONE")
    assert await _invalidate(a, "t") == "redis"
    await asyncio.sleep(0.3)  # rounds of SET + WAIT on a replica-less master
    assert len(_held(a)) == 1  # held, as a write would be
    # b is not asked again before the failover: it never learns the new record.
    master.kill()
    for client in (a, b):
        link = client.app[appkeys.LINK]
        await eventually(lambda lk=link: lk.is_ready() and lk.view.reconnects_total >= 1,
                         timeout=20, what="ready on the promoted replica")
        assert link.topology()["master"] == f"127.0.0.1:{replica.port}"
    fresh = await ready_client(app_client, url, **env)  # knew nothing before
    # a, which made the invalidation, knows the record's value from after it
    # (a floor): its reads would find k and m invalidated and remove them
    # from Redis. b and the fresh instance read first.
    for client in (fresh, b, a):
        for key in ("k", "m"):
            assert (await _get(client, key))[0] == 404, (key, await _get(client, key))
    # Applied again on a master without a replica: held again.
    assert len(_held(a)) == 1
    assert (await a.put("/cache/default/j", data=b"after", headers={TAGS: "t"})).status == 204
    await eventually(lambda: direct.exists("roleready:default:j") == 1, what="j on the new master")
    assert (await _get(b, "j"))[0] == 200  # written after the invalidation: served


async def test_an_outage_invalidation_a_full_redis_refuses_deletes_the_record(
    app_client: StartClient, redis_factory: Callable[..., RedisServer]
) -> None:
    redis = redis_factory("--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
    a = await ready_client(app_client, redis.url, **FAST_LINK_ENV)
    assert (await a.put("/cache/default/k", data=b"old", headers={TAGS: "t"})).status == 204
    client = redis.client()
    assert client.exists(RECORD) == 1
    fill_until_oom(client)
    redis.pause()  # an outage; Redis stays full through it
    try:
        await eventually(lambda: not a.app[appkeys.LINK].is_ready(), timeout=10,
                         what="the link to leave ready")
        assert await _invalidate(a, "t") == "memory"
    finally:
        redis.resume()
    await link_state(a.app, "ready")
    assert client.exists(RECORD) == 0  # deleted: every value carrying t misses
    assert client.exists("roleready:default:k") == 1
    fresh = await ready_client(app_client, redis.url)
    assert (await _get(fresh, "k"))[0] == 404


async def test_an_invalidation_still_held_at_shutdown_is_applied_again(
    app_client: StartClient, redis_servers: RedisServers
) -> None:
    """As a held write is (test_replica_confirm.py): the shutdown adopts it
    and applies it once more while Redis answers (with CACHE_STATE_DIR,
    what cannot be applied is kept for the next start)."""
    server = redis_servers.start()
    replica = redis_servers.start("--replicaof", "127.0.0.1", str(server.port))
    wait_for(lambda: replica_in_sync(replica), what="the replica in sync")
    a = await ready_client(app_client, server.url)
    await eventually(lambda: _held(a).required, what="the confirmer to see the replica")
    assert (await a.put("/cache/default/k", data=b"old", headers={TAGS: "t"})).status == 204
    await eventually(lambda: len(_held(a)) == 0, what="the replica to confirm the write")
    replica.pause()  # SIGSTOP: it acknowledges nothing from here on
    try:
        assert await _invalidate(a, "t") == "redis"
        assert len(_held(a)) == 1
        with server.client() as raw:
            invalidated = int(raw.get(RECORD))
        await a.close()  # the app's cleanup: the shutdown
        with server.client() as raw:
            assert int(raw.get(RECORD)) > invalidated  # applied again
    finally:
        replica.resume()


async def test_a_cluster_invalidation_is_confirmed_and_replayed_by_its_record_s_master(
    app_client: StartClient, redis_cluster: LocalCluster
) -> None:
    """The record lives on one master, the values it covers on others: the
    record's master confirms the invalidation, and its failover applies it
    again on the promoted replica before `ready`."""
    a = await ready_client(app_client, CLUSTER_URL, REDIS_CLUSTER_NODES=redis_cluster.seeds)
    victim = redis_cluster.master_for(RECORD)
    others = [k for k in (f"k{i}" for i in range(60))
              if redis_cluster.master_for(KEY.format(k)).port != victim.port][:4]
    for key in others:
        assert (await a.put(f"/cache/default/{key}", data=b"old", headers={TAGS: "t"})).status == 204
    await eventually(lambda: len(_held(a)) == 0, what="the replicas to confirm the writes")
    replica = redis_cluster.replica_of(victim)
    replica.pause()  # the record's master has no replica acknowledging now
    try:
        answer = await (await a.post("/cache/default/_invalidate", json={"tags": ["t"]})).json()
        assert answer["appliedIn"] == "redis"
        invalidated = int(redis_cluster.node_client(victim).get(RECORD))
        await asyncio.sleep(0.3)  # the other masters confirm what is theirs
        held = _held(a)
        assert list(held._held) == ["~tag:default:t"]
        victim.kill()
    finally:
        replica.resume()
    link = a.app[appkeys.LINK]
    promoted = f"127.0.0.1:{replica.port}"
    await eventually(lambda: link.is_ready() and promoted in link.nodes,
                     timeout=20, what="ready on the record's promoted replica")
    # Applied again there, and held again. (A paused replica may still read
    # the invalidation from its socket once resumed: the record's value, not
    # the values' misses, is what shows the replay here; the Sentinel test
    # above breaks replication outright.)
    assert int(redis_cluster.node_client(replica).get(RECORD)) > invalidated
    assert list(held._held) == ["~tag:default:t"]
    fresh = await ready_client(app_client, CLUSTER_URL, REDIS_CLUSTER_NODES=redis_cluster.seeds)
    for key in others:
        assert (await _get(fresh, key))[0] == 404, key
