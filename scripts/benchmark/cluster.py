"""A Redis Cluster for the failover section: three masters, one replica each.

Six nodes (`cluster-enabled yes`, `cluster-node-timeout 1000`,
`cluster-require-full-coverage no`: a cache keeps serving the other masters'
slots while one master's wait for its replica) on ports at or below 55535
(the bus port is port + 10000), joined by `redis-cli --cluster create ...
--cluster-replicas 1 --cluster-yes`. `start_cluster` returns once every node
says `cluster_state:ok`, knows all six, flags none as failing, and every
replica's link to its master is up (a replica still syncing cannot take over).
Topology questions are asked of a running node at the time of asking.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from scripts.benchmark.processes import BenchError, Processes, RedisProcess
from scripts.benchmark.rediscli import (
    HOST,
    ClusterNode,
    cluster_nodes,
    info,
    redis_cli,
    wait_until,
)

MASTERS = 3
NODE_TIMEOUT_MS = 1000
CREATE_TIMEOUT_S = 30.0
HEALTHY_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class ClusterSetup:
    nodes: tuple[RedisProcess, ...]

    @property
    def seeds(self) -> str:
        """REDIS_CLUSTER_NODES: every node as host:port."""
        return ",".join(f"{HOST}:{node.port}" for node in self.nodes)

    def view(self) -> list[ClusterNode]:
        running = next(node for node in self.nodes if node.running)
        return cluster_nodes(running.port)

    def node(self, port: int) -> RedisProcess:
        return next(node for node in self.nodes if node.port == port)

    def master_for(self, redis_key: str) -> RedisProcess:
        """The master serving `redis_key`'s slot (CLUSTER KEYSLOT)."""
        slot = int(redis_cli(self.nodes[0].port, "CLUSTER", "KEYSLOT", redis_key))
        for entry in self.view():
            if entry.is_master and any(low <= slot <= high for low, high in entry.slots):
                return self.node(entry.port)
        raise BenchError(f"no master serves slot {slot}")

    def replica_of(self, master: RedisProcess) -> RedisProcess:
        entries = self.view()
        master_id = next(e.node_id for e in entries if e.port == master.port)
        return self.node(next(e.port for e in entries if e.master_id == master_id))

    def healthy(self) -> bool:
        """One look at every node: agreed, complete, replicas in sync."""
        for node in self.nodes:
            if "cluster_state:ok" not in redis_cli(node.port, "CLUSTER", "INFO"):
                return False
            entries = cluster_nodes(node.port)
            if len(entries) != len(self.nodes) or any(e.failing for e in entries):
                return False
            masters = {e.node_id for e in entries if e.is_master and e.slots}
            replicas = [e for e in entries if not e.is_master]
            if len(masters) != MASTERS or any(e.master_id not in masters for e in replicas):
                return False
            if not node_in_sync(node.port, entries):
                return False
        return True


def node_in_sync(port: int, entries: list[ClusterNode]) -> bool:
    """A master is; a replica when its link to its master is up."""
    me = next((e for e in entries if e.myself), None)
    if me is None or me.is_master:
        return me is not None
    return info(port, "replication").get("master_link_status") == "up"


def start_cluster(procs: Processes, masters: int = MASTERS) -> ClusterSetup:
    nodes = tuple(
        procs.cluster_node(f"node-{i}", "--cluster-enabled", "yes",
                           "--cluster-config-file", "nodes.conf",
                           "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
                           "--cluster-require-full-coverage", "no")
        for i in range(2 * masters)
    )
    command = ["redis-cli", "--cluster", "create", *(f"{HOST}:{n.port}" for n in nodes),
               "--cluster-replicas", "1", "--cluster-yes"]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=CREATE_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise BenchError(f"redis-cli --cluster create failed: {(done.stdout + done.stderr)[-800:]}")
    cluster = ClusterSetup(nodes)
    wait_until(cluster.healthy, "healthy cluster", HEALTHY_TIMEOUT_S)
    return cluster
