"""Cluster mode against a real Redis Cluster (three masters, one replica
each): keys spread over the masters, a master killed under load and its
replica followed, slots moved under the service's feet."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient

from scripts.harness.redis_cluster import LocalCluster
from scripts.harness.redis_server import RedisServer
from service import appkeys
from tests.integration.test_acl import HIGH_AVAILABILITY, PASSWORD, documented_acl
from tests.support.waiting import eventually, eventually_async, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
# Only credentials and TLS are read from REDIS_URL in cluster mode.
URL = "redis://127.0.0.1:1"
HIGH_AVAILABILITY_TEXT = HIGH_AVAILABILITY.read_text()


async def _instances(app_client: StartClient, cluster: LocalCluster) -> list[TestClient]:
    return [await ready_client(app_client, URL, REDIS_CLUSTER_NODES=cluster.seeds)
            for _ in range(2)]


def _keys_by_master(cluster: LocalCluster, count: int) -> dict[int, list[str]]:
    spread: dict[int, list[str]] = {}
    for i in range(count):
        spread.setdefault(cluster.master_for(f"roleready:default:k{i}").port, []).append(f"k{i}")
    return spread


async def _read(client: TestClient, key: str) -> tuple[int, str | None, bytes]:
    """A GET that must come from Redis (or miss): memory's copy dropped first."""
    client.app[appkeys.CACHE].memory.delete("default", key)
    answer = await client.get(f"/cache/default/{key}")
    return answer.status, answer.headers.get("X-Cache"), await answer.read()


async def test_keys_spread_over_the_masters_and_a_killed_master_is_followed(
    app_client: StartClient, redis_cluster: LocalCluster
) -> None:
    a, b = await _instances(app_client, redis_cluster)
    spread = _keys_by_master(redis_cluster, 60)
    assert len(spread) == 3
    keys = [key for group in spread.values() for key in group]
    # Written in batches of concurrent requests, read back through the other.
    puts = await asyncio.gather(*(a.put(f"/cache/default/{k}", data=k.encode()) for k in keys))
    assert {(p.status, p.headers["X-Cache-Stored"]) for p in puts} == {(204, "redis")}
    reads = await asyncio.gather(*(b.get(f"/cache/default/{k}") for k in keys))
    assert {(r.status, r.headers["X-Cache"]) for r in reads} == {(200, "hit-redis")}

    # Coherence per master: B holds k in memory; A's write reaches it.
    some = spread[redis_cluster.masters[1].port][0]
    assert (await b.get(f"/cache/default/{some}")).headers["X-Cache"] == "hit-memory"
    await a.put(f"/cache/default/{some}", data=b"newer")
    await eventually_async(
        lambda: _body_is(b, some, b"newer"), what="B's memory tier to follow A's write"
    )

    victim = redis_cluster.masters[0]
    lost = spread[victim.port]
    survivors = [k for port, group in spread.items() if port != victim.port for k in group]
    # B holds this one in memory (read above); only the lost master's keys
    # are forgotten when that master's link reconnects.
    kept = next(k for k in reversed(survivors) if k not in (some, survivors[0]))
    victim.kill()
    killed_at = time.monotonic()
    statuses: set[int] = set()
    written_in_outage = False
    recovered_s = None
    while time.monotonic() - killed_at < 15:
        for client in (a, b):
            status, source, _ = await _read(client, survivors[0])
            statuses.add(status)
            assert source == "hit-redis"  # the other masters keep serving
        if not written_in_outage:
            put = await a.put(f"/cache/default/{lost[1]}", data=b"outage-write")
            statuses.add(put.status)
            written_in_outage = put.headers["X-Cache-Stored"] == "memory"
        elif await _both_read_from_redis(a, b, lost[0]):
            recovered_s = time.monotonic() - killed_at
            break
        await asyncio.sleep(0.05)
    assert written_in_outage, "a write to the lost master's key lands in memory meanwhile"
    assert recovered_s is not None, "Redis used again for the lost master's keys within 15 s"
    assert statuses <= {200, 204}
    # The value from before the outage does not come back over the outage
    # write: the replay on the promoted replica removed it (delete mode).
    assert (await _read(b, lost[1]))[0] == 404
    assert (await b.get(f"/cache/default/{kept}")).headers["X-Cache"] == "hit-memory"
    await _metrics_show_the_masters(a, {m.port for m in redis_cluster.masters})
    for client in (a, b):
        topology = (await (await client.get("/health/detailed")).json())["checks"]["redis"]
        assert topology["status"] == "healthy"
        nodes = {n["address"] for n in topology["topology"]["nodes"]}
        assert f"127.0.0.1:{victim.port}" not in nodes and len(nodes) == 3

    # The old master comes back as a replica: the service does not move back.
    await asyncio.to_thread(redis_cluster.rejoin, victim)
    await a.put(f"/cache/default/{lost[0]}", data=b"after-rejoin")
    assert await _read(b, lost[0]) == (200, "hit-redis", b"after-rejoin")
    link = a.app[appkeys.LINK]
    assert link.is_ready()
    assert f"127.0.0.1:{victim.port}" not in {n["address"] for n in link.topology()["nodes"]}


async def _metrics_show_the_masters(client: TestClient, ports: set[int]) -> None:
    text = await (await client.get("/metrics")).text()
    assert 'roleready_redis_topology_info{mode="cluster"} 1.0' in text
    for port in ports:
        assert f'roleready_redis_node_up{{node="127.0.0.1:{port}"}} 1.0' in text
    slots = [line for line in text.splitlines() if line.startswith("roleready_redis_node_slots{")]
    assert len(slots) == len(ports)
    assert sum(float(line.rsplit(" ", 1)[1]) for line in slots) == 16384


async def _body_is(client: TestClient, key: str, body: bytes) -> bool:
    answer = await client.get(f"/cache/default/{key}")
    return await answer.read() == body


async def _both_read_from_redis(a: TestClient, b: TestClient, key: str) -> bool:
    """A value PUT through A is read through B from Redis."""
    put = await a.put(f"/cache/default/{key}", data=b"recovered")
    if put.headers.get("X-Cache-Stored") != "redis":
        return False
    return await _read(b, key) == (200, "hit-redis", b"recovered")


def _cluster_user(cluster: LocalCluster) -> str:
    """The documented ACL user, with the rights named for cluster mode, on
    every node; its URL."""
    extra = re.search(r"the user needs `(\S+)` \(the slot map\) and\s+`(\S+)`", HIGH_AVAILABILITY_TEXT)
    assert extra is not None, "docs/high-availability.md names the cluster mode's extra ACL rights"
    rule = [*documented_acl(), *extra.groups()]
    for node in cluster.nodes:
        assert cluster.node_client(node).execute_command(*rule) == "OK"
    return f"redis://roleready:{PASSWORD}@127.0.0.1:1"


async def test_moved_and_ask_are_followed_never_shown(
    app_client: StartClient, redis_cluster: LocalCluster
) -> None:
    url = _cluster_user(redis_cluster)
    # Lazy (the default): the first health check connects the map and
    # every master, and reports them.
    client = await app_client(url, REDIS_CLUSTER_NODES=redis_cluster.seeds)
    detailed = await (await client.get("/health/detailed")).json()
    assert detailed["status"] == "healthy"
    assert len(detailed["checks"]["redis"]["topology"]["nodes"]) == 3
    key, redis_key = "migrating", "roleready:default:migrating"
    source = redis_cluster.master_for(redis_key)
    target = next(m for m in redis_cluster.masters if m.port != source.port)
    assert (await client.put(f"/cache/default/{key}", data=b"v1")).status == 204

    # Mid-migration the key has moved: its old master answers ASK.
    slot = _begin_migration(redis_cluster, source, target, redis_key)
    assert await _read(client, key) == (200, "hit-redis", b"v1")
    # Migration done: the old master answers MOVED, which is followed.
    for node in redis_cluster.masters:
        redis_cluster.node_client(node).execute_command(
            "CLUSTER", "SETSLOT", slot, "NODE", _node_id(redis_cluster, target))
    assert await _read(client, key) == (200, "hit-redis", b"v1")
    link = client.app[appkeys.LINK]
    assert link.view.errors_total == 0
    await eventually(
        lambda: link.slots.master_of(redis_key) == f"127.0.0.1:{target.port}",
        what="the slot map to follow the MOVED",
    )
    put = await client.put(f"/cache/default/{key}", data=b"v2")
    assert put.headers["X-Cache-Stored"] == "redis"
    # EXISTS, not GET: the node client decodes replies as text, and a
    # stored value (format v2) starts with a binary header.
    assert redis_cluster.node_client(target).exists(redis_key) == 1

    # A lease's script touches the value and its lease: one slot (hash tag).
    leased = await client.get("/cache/default/fresh?lease=1")
    token = leased.headers["X-Cache-Lease"]
    assert token != "pending"
    filled = await client.put("/cache/default/fresh", data=b"computed",
                              headers={"X-Cache-Lease": token})
    assert (filled.status, filled.headers["X-Cache-Stored"]) == (204, "redis")
    assert link.view.errors_total == 0


def _node_id(cluster: LocalCluster, node: RedisServer) -> str:
    return str(cluster.node_client(node).execute_command("CLUSTER", "MYID"))


def _begin_migration(cluster: LocalCluster, source: RedisServer, target: RedisServer,
                     key: str) -> int:
    """What `redis-cli --cluster reshard` does for one slot, up to moving
    the key (the slot is still assigned to `source`)."""
    from_source, to_target = cluster.node_client(source), cluster.node_client(target)
    slot = int(from_source.execute_command("CLUSTER", "KEYSLOT", key))
    to_target.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", _node_id(cluster, source))
    from_source.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", _node_id(cluster, target))
    from_source.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", key)
    return slot
