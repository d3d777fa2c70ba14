"""The redis-server harness itself: start, kill, hang, restart, clean up; the cluster."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import redis

from scripts.harness.ports import free_port, port_is_open
from scripts.harness.redis_cluster import BUS_PORT_OFFSET, CLUSTER_PORT_MAX, LocalCluster, slot_of
from scripts.harness.redis_server import RedisServer, RedisServers, ping
from scripts.harness.waiting import wait_for

pytestmark = pytest.mark.redis


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): read its state to be sure.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_server_answers_on_its_own_port_and_dir(redis_server: RedisServer) -> None:
    assert redis_server.port != 6379
    client = redis.Redis(port=redis_server.port)
    assert client.ping() is True
    assert client.config_get("dir")["dir"] == str(redis_server.data_dir)
    assert redis_server.url == f"redis://127.0.0.1:{redis_server.port}"
    client.close()


def test_extra_config_flags_apply(redis_factory) -> None:  # type: ignore[no-untyped-def]
    server = redis_factory("--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru")
    client = redis.Redis(port=server.port)
    assert client.config_get("maxmemory")["maxmemory"] == str(3 * 1024 * 1024)
    assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "allkeys-lru"
    client.close()


def test_kill_then_restart_on_the_same_port(redis_server: RedisServer) -> None:
    port = redis_server.port
    redis_server.kill()
    assert not redis_server.running
    assert not port_is_open(port)
    redis_server.restart()
    assert redis_server.port == port
    assert ping(port)


def test_stop_is_a_clean_shutdown_that_keeps_saved_data(redis_factory) -> None:  # type: ignore[no-untyped-def]
    server = redis_factory("--save", "3600 1")
    client = redis.Redis(port=server.port)
    client.set("kept", "yes")
    client.close()
    server.stop()  # SIGTERM saves because a save point is configured
    assert (server.data_dir / "dump.rdb").exists()
    server.start()
    client = redis.Redis(port=server.port)
    assert client.get("kept") == b"yes"
    client.close()


def test_pause_hangs_the_server_and_resume_brings_it_back(redis_server: RedisServer) -> None:
    redis_server.pause()
    # The kernel still accepts the connection, but nothing answers: a hang.
    with socket.create_connection(("127.0.0.1", redis_server.port), timeout=1):
        pass
    assert not ping(redis_server.port, timeout=0.3)
    redis_server.resume()
    assert ping(redis_server.port, timeout=2)


def test_every_process_is_gone_after_the_group_closes_even_on_failure(
    tmp_path: Path,
) -> None:
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="test body failed"), RedisServers(tmp_path) as servers:
        first = servers.start()
        second = servers.start()
        second.pause()  # a hung server must be cleaned up too
        pids = [p for p in (first.pid, second.pid) if p is not None]
        assert all(_alive(pid) for pid in pids)
        raise RuntimeError("test body failed")
    assert len(pids) == 2
    assert not any(_alive(pid) for pid in pids)


def test_a_server_that_cannot_start_is_reported(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "bad", port=1, args=["--no-such-option", "x"])
    with pytest.raises(RuntimeError, match="exited at start-up"):
        server.start()
    assert not server.running


# -- the Redis Cluster (scripts/harness/redis_cluster.py) ------------------------


def test_free_port_honours_a_maximum_and_a_free_bus_port() -> None:
    for _ in range(20):
        port = free_port(CLUSTER_PORT_MAX, also_free=(BUS_PORT_OFFSET,))
        assert port <= CLUSTER_PORT_MAX
        assert not port_is_open(port + BUS_PORT_OFFSET)


def test_a_cluster_comes_up_ok_with_three_masters_each_with_a_synced_replica(
    redis_cluster: LocalCluster,
) -> None:
    print(f"cluster created and healthy in {redis_cluster.created_s:.2f} s")
    nodes = redis_cluster.nodes
    assert len(nodes) == 6
    assert all(node.port <= CLUSTER_PORT_MAX and node.port != 6379 for node in nodes)
    assert redis_cluster.seeds == ",".join(f"127.0.0.1:{node.port}" for node in nodes)
    masters, replicas = redis_cluster.masters, redis_cluster.replicas
    assert len(masters) == 3 and len(replicas) == 3
    assert set(masters) | set(replicas) == set(nodes)
    for master, replica in zip(masters, replicas, strict=True):
        assert redis_cluster.replica_of(master) is replica
        assert redis_cluster.master_of(replica) is master
        assert redis_cluster.role(master) == "master"
        assert redis_cluster.role(replica) == "slave"
        info = redis_cluster.node_client(replica).info("replication")
        assert info["master_link_status"] == "up"
        assert info["master_port"] == master.port
    for node in nodes:
        client = redis_cluster.node_client(node)
        assert "cluster_state:ok" in client.execute_command("CLUSTER", "INFO")
        assert client.config_get("cluster-node-timeout")["cluster-node-timeout"] == "1000"
        assert client.config_get("cluster-config-file")["cluster-config-file"] == str(
            node.data_dir / "nodes.conf")
        assert (node.data_dir / "nodes.conf").exists()
    assert redis_cluster.healthy()


def test_keys_are_found_on_the_master_serving_their_slot(redis_cluster: LocalCluster) -> None:
    client = redis_cluster.client()
    keys = [f"roleready:default:k{i}" for i in range(30)]
    for key in keys:
        client.set(key, key)
    seen = set()
    for key in keys:
        master = redis_cluster.master_for(key)
        seen.add(master)
        node = redis_cluster.node_client(master)
        assert node.execute_command("CLUSTER", "KEYSLOT", key) == slot_of(key)
        assert node.get(key) == key  # a plain GET on that master: no MOVED
    assert len(seen) == 3  # 30 keys spread over all three masters
    assert redis_cluster.master_for("{same}:a") is redis_cluster.master_for("{same}:b")


def test_a_killed_masters_replica_takes_over_and_the_cluster_is_ok_again(
    redis_cluster: LocalCluster,
) -> None:
    master = redis_cluster.masters[0]
    replica = redis_cluster.replica_of(master)
    key = next(f"key-{i}" for i in range(1000) if redis_cluster.master_for(f"key-{i}") is master)
    client = redis_cluster.client()
    # WAIT counts the replicas that have the CALLING connection's last write:
    # asked on a connection that wrote nothing, it answers at once, and a
    # SIGKILL could then beat the replication of a write made elsewhere (the
    # promoted replica lacked the key, ~1 run in 3). So write and WAIT on the
    # one connection, the master's own (it serves the key's slot: no MOVED).
    on_master = redis_cluster.node_client(master)
    on_master.set(key, "before")
    assert on_master.execute_command("WAIT", 1, 2000) == 1

    failover = redis_cluster.kill_master(master)
    print(f"master killed -> replica promoted {failover.promoted_s:.2f} s, "
          f"cluster healthy {failover.healthy_s:.2f} s")

    assert failover.killed is master and failover.promoted is replica
    assert not master.running
    assert redis_cluster.role(replica) == "master"
    assert len(redis_cluster.masters) == 3 and replica in redis_cluster.masters
    assert master not in redis_cluster.masters + redis_cluster.replicas
    assert redis_cluster.master_for(key) is replica
    assert redis_cluster.node_client(replica).get(key) == "before"  # nothing lost
    # redis-py's cluster client follows the new topology (a MOVED, a refresh).
    wait_for(lambda: client.get(key) == b"before", 5.0, "the cluster client to follow")
    client.set(key, "after")
    assert redis_cluster.node_client(replica).get(key) == "after"
    with pytest.raises(LookupError):
        redis_cluster.replica_of(replica)  # its old master is dead: no replica yet

    rejoined_s = redis_cluster.rejoin(master)
    print(f"old master restarted and synced as a replica in {rejoined_s:.2f} s")
    assert redis_cluster.role(master) == "slave"
    assert redis_cluster.replica_of(replica) is master
