"""A real Redis Cluster for the tests: three masters with one replica each.

Six redis-server processes from the `RedisServers` machinery (free loopback
ports at or below 55535, because a node's cluster bus listens on port + 10000
and redis-server refuses a higher port), each with `cluster-enabled yes`, its
own `cluster-config-file` in its data directory and `cluster-node-timeout`
1000 ms (the fast defaults already give no persistence and
`repl-diskless-sync-delay 0`). `redis-cli --cluster create ... --cluster-replicas
1 --cluster-yes` joins them; `start()` returns once the cluster is healthy.

Healthy (`wait_healthy`) means, polled, never slept for: every running node
says `cluster_state:ok`; every running node's CLUSTER NODES shows the same
topology (masters, their slots, which replica follows which master, nothing
flagged failed that is running); every live node is a master with slots or a
replica of a live master; every replica says `master_link_status:up` (a
replica that has not finished its first sync cannot take over).

Topology questions (`masters`, `replicas`, `replica_of`, `master_for`) are
answered from a running node's CLUSTER NODES at the time of asking, so they
stay true after a failover. Stopping the processes is the `RedisServers`
group's job; `close()` closes the clients this object opened.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Self

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.crc import key_slot
from redis.retry import Retry

from scripts.harness.ports import free_port
from scripts.harness.redis_server import RedisServer, RedisServers
from scripts.harness.waiting import wait_for

# The cluster bus listens on port + BUS_PORT_OFFSET, which must be a valid port.
BUS_PORT_OFFSET = 10000
CLUSTER_PORT_MAX = 65535 - BUS_PORT_OFFSET
NODE_TIMEOUT_MS = 1000
CREATE_TIMEOUT_S = 30.0
HEALTHY_TIMEOUT_S = 15.0
HOST = "127.0.0.1"


@dataclass(frozen=True)
class NodeEntry:
    """One line of CLUSTER NODES."""

    node_id: str
    port: int
    flags: frozenset[str]
    master_id: str | None  # a replica's master; None for a master
    slots: tuple[tuple[int, int], ...]  # inclusive ranges

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def failing(self) -> bool:
        """Flagged failed (or suspected), unreachable or not yet met."""
        return bool(self.flags & {"fail", "fail?", "noaddr", "handshake"})

    def serves(self, slot: int) -> bool:
        return any(low <= slot <= high for low, high in self.slots)


def parse_cluster_nodes(text: str) -> list[NodeEntry]:
    """CLUSTER NODES text -> entries (slots being migrated, `[...]`, are left out)."""
    entries = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        node_id, address, flags, master = fields[:4]
        port = int(address.split("@", 1)[0].rsplit(":", 1)[1])
        slots = []
        for item in fields[8:]:
            if item.startswith("["):
                continue
            low, _, high = item.partition("-")
            slots.append((int(low), int(high or low)))
        entries.append(NodeEntry(node_id, port, frozenset(flags.split(",")),
                                 None if master == "-" else master, tuple(slots)))
    return entries


def slot_of(key: str | bytes) -> int:
    """The cluster slot of `key` (hash tags honoured), as CLUSTER KEYSLOT says."""
    return int(key_slot(key.encode() if isinstance(key, str) else key))


@dataclass(frozen=True)
class Failover:
    """What `kill_master` did and how long it took (seconds from the kill)."""

    killed: RedisServer
    promoted: RedisServer
    promoted_s: float  # the replica's ROLE says master
    healthy_s: float  # cluster_state:ok everywhere, all nodes agree, replicas synced


class LocalCluster:
    """`masters` masters with `replicas_per_master` replicas each, on loopback."""

    def __init__(self, servers: RedisServers, *, masters: int = 3, replicas_per_master: int = 1,
                 node_timeout_ms: int = NODE_TIMEOUT_MS) -> None:
        self.servers = servers
        self.master_count = masters
        self.replicas_per_master = replicas_per_master
        self.node_timeout_ms = node_timeout_ms
        self.nodes: list[RedisServer] = []  # in creation (seed) order
        self.created_s = 0.0  # redis-cli create until healthy
        self._node_clients: dict[int, redis.Redis] = {}
        self._cluster_client: RedisCluster | None = None

    # -- life cycle ---------------------------------------------------------

    def start(self) -> Self:
        count = self.master_count * (1 + self.replicas_per_master)
        for index in range(count):
            data_dir = self.servers.base_dir / f"cluster-{index}"
            port = free_port(CLUSTER_PORT_MAX, also_free=(BUS_PORT_OFFSET,))
            self.nodes.append(self.servers.start(
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(data_dir / "nodes.conf"),
                "--cluster-node-timeout", str(self.node_timeout_ms),
                # A cache's choice (docs/high-availability.md): the other masters keep serving
                # while one master's slots wait for its replica.
                "--cluster-require-full-coverage", "no",
                port=port, data_dir=data_dir,
            ))
        began = time.monotonic()
        command = ["redis-cli", "--cluster", "create",
                   *(f"{HOST}:{node.port}" for node in self.nodes),
                   "--cluster-replicas", str(self.replicas_per_master), "--cluster-yes"]
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=CREATE_TIMEOUT_S, check=False)
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace")
            raise RuntimeError(f"redis-cli --cluster create failed: {output[-2000:]}")
        self.wait_healthy()
        self.created_s = time.monotonic() - began
        return self

    def close(self) -> None:
        if self._cluster_client is not None:
            self._cluster_client.close()
            self._cluster_client = None
        for client in self._node_clients.values():
            client.close()
        self._node_clients.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- addresses and clients ----------------------------------------------

    @property
    def seeds(self) -> str:
        """Every node as `127.0.0.1:port,...`: the value for REDIS_CLUSTER_NODES."""
        return ",".join(f"{HOST}:{node.port}" for node in self.nodes)

    def client(self) -> RedisCluster:
        """A sync redis-py RedisCluster on the seeds, for checking values (one, reused)."""
        if self._cluster_client is None:
            self._cluster_client = RedisCluster(
                startup_nodes=[ClusterNode(HOST, node.port) for node in self.nodes],
                socket_timeout=2, socket_connect_timeout=1,
            )
        return self._cluster_client

    def node_client(self, node: RedisServer) -> redis.Redis:
        """A plain client of one node (RESP2, decoded, 1 s timeouts, no retries)."""
        client = self._node_clients.get(node.port)
        if client is None:
            client = redis.Redis(host=HOST, port=node.port, protocol=2, decode_responses=True,
                                 socket_timeout=1, socket_connect_timeout=1,
                                 retry=Retry(NoBackoff(), 0))
            self._node_clients[node.port] = client
        return client

    # -- topology, as a running node sees it now ----------------------------

    def cluster_nodes(self, node: RedisServer | None = None) -> list[NodeEntry]:
        """CLUSTER NODES of `node` (default: the first running node)."""
        source = node or self._any_running()
        return parse_cluster_nodes(self.node_client(source).execute_command("CLUSTER", "NODES"))

    @property
    def masters(self) -> list[RedisServer]:
        """The live masters, in slot order."""
        entries = [e for e in self.cluster_nodes() if e.is_master and not e.failing and e.slots]
        entries.sort(key=lambda e: min(e.slots))
        return [self._server(e.port) for e in entries]

    @property
    def replicas(self) -> list[RedisServer]:
        """The live replicas, in their masters' slot order (after a failover the
        promoted master has none until its old master rejoins)."""
        entries = [e for e in self.cluster_nodes() if not e.failing]
        order = {e.node_id: min(e.slots) for e in entries if e.is_master and e.slots}
        followers = [e for e in entries if not e.is_master and e.master_id in order]
        followers.sort(key=lambda e: order[e.master_id or ""])
        return [self._server(e.port) for e in followers]

    def replica_of(self, master: RedisServer) -> RedisServer:
        """The (first) live replica following `master`."""
        entries = self.cluster_nodes()
        master_id = self._entry(entries, master).node_id
        for entry in entries:
            if entry.master_id == master_id and not entry.is_master and not entry.failing:
                return self._server(entry.port)
        raise LookupError(f"no live replica of the master on {master.port}")

    def master_of(self, replica: RedisServer) -> RedisServer:
        entries = self.cluster_nodes()
        master_id = self._entry(entries, replica).master_id
        for entry in entries:
            if entry.node_id == master_id:
                return self._server(entry.port)
        raise LookupError(f"the node on {replica.port} follows no known master")

    def master_for(self, key: str | bytes) -> RedisServer:
        """The live master serving `key`'s slot."""
        slot = slot_of(key)
        for entry in self.cluster_nodes():
            if entry.is_master and not entry.failing and entry.serves(slot):
                return self._server(entry.port)
        raise LookupError(f"no live master serves slot {slot}")

    def _any_running(self) -> RedisServer:
        for node in self.nodes:
            if node.running:
                return node
        raise RuntimeError("no cluster node is running")

    def _server(self, port: int) -> RedisServer:
        for node in self.nodes:
            if node.port == port:
                return node
        raise LookupError(f"port {port} is not a node of this cluster")

    @staticmethod
    def _entry(entries: Iterable[NodeEntry], node: RedisServer) -> NodeEntry:
        for entry in entries:
            if entry.port == node.port:
                return entry
        raise LookupError(f"the node on {node.port} is not in CLUSTER NODES")

    # -- health and failover -------------------------------------------------

    def wait_healthy(self, timeout: float = HEALTHY_TIMEOUT_S) -> None:
        wait_for(self.healthy, timeout, "a healthy cluster (state ok, agreed, replicas synced)")

    def healthy(self) -> bool:
        """One look at every running node; False while anything is not yet settled."""
        try:
            return self._healthy()
        except (redis.RedisError, OSError):
            return False

    def _healthy(self) -> bool:
        running = [node for node in self.nodes if node.running]
        views = []
        for node in running:
            client = self.node_client(node)
            if "cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                return False
            views.append(_view(parse_cluster_nodes(client.execute_command("CLUSTER", "NODES"))))
        first = views[0]
        if any(view != first for view in views[1:]):
            return False
        if set(first) != {node.port for node in running}:
            return False  # a running node is missing, or flagged failed
        masters = {port for port, (master, slots) in first.items() if master is None and slots}
        if len(masters) != self.master_count:
            return False
        for port, (master, _slots) in first.items():
            if master is None:
                if port not in masters:
                    return False  # a master without slots: not what we built
                continue
            if master not in masters:
                return False
            replication = self.node_client(self._server(port)).info("replication")
            if replication.get("master_link_status") != "up":
                return False
        return True

    def role(self, node: RedisServer) -> str:
        """ROLE's first element: "master" or "slave"."""
        return str(self.node_client(node).execute_command("ROLE")[0])

    def kill_master(self, master: RedisServer | None = None,
                    timeout: float = HEALTHY_TIMEOUT_S) -> Failover:
        """SIGKILL `master` (default: the first), wait until its replica is
        master and the cluster is healthy again; say how long each took."""
        master = master or self.masters[0]
        replica = self.replica_of(master)
        began = time.monotonic()
        master.kill()

        def promoted() -> bool:
            try:
                return self.role(replica) == "master"
            except redis.RedisError:
                return False

        wait_for(promoted, timeout, f"the replica on {replica.port} to be promoted")
        promoted_s = time.monotonic() - began
        self.wait_healthy(max(0.0, timeout - promoted_s))
        return Failover(master, replica, promoted_s, time.monotonic() - began)

    def rejoin(self, node: RedisServer, timeout: float = HEALTHY_TIMEOUT_S) -> float:
        """Start a killed node again (same port, same nodes.conf): it rejoins
        as a replica; return the seconds until the cluster is healthy again."""
        began = time.monotonic()
        node.start()
        self.wait_healthy(timeout)
        return time.monotonic() - began


def _view(entries: list[NodeEntry]) -> dict[int, tuple[int | None, tuple[tuple[int, int], ...]]]:
    """A node's picture of the live topology: port -> (its master's port, slots)."""
    ports = {entry.node_id: entry.port for entry in entries}
    return {
        entry.port: (None if entry.is_master else ports.get(entry.master_id or "", -1),
                     tuple(sorted(entry.slots)))
        for entry in entries if not entry.failing
    }
