"""A Redis Cluster's slot map: which master serves each of the 16384 slots.

    refresh() ─► redis-py's RedisCluster (its NodesManager) asks the known
                 nodes for CLUSTER SLOTS ─► slot → master "host:port",
                 masters and their replicas; the nodes learnt become the
                 ones asked next time (the seeds may all be gone by then)
    master_of(key) ─► CRC16 slot ─► "host:port" (None: slot not served)

redis-py owns the topology protocol (parsing, node agreement); the link
owns the connections, so the RedisCluster client here is built for one
refresh and closed after it: it never carries traffic, and the password
file is read again at every refresh.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.cluster import REDIS_CLUSTER_HASH_SLOTS, key_slot

# The replies of CLUSTER SLOTS: (host, port) of every known node.
Address = tuple[str, int]


def name_of(host: str, port: int) -> str:
    return f"{host}:{port}"


class SlotMap:
    def __init__(self, seeds: Iterable[Address], options: Callable[[], Mapping[str, Any]]) -> None:
        """`options`: the connection options for RedisCluster, built anew
        at each refresh (a rotated password file takes effect)."""
        self._known: dict[str, Address] = {name_of(h, p): (h, p) for h, p in seeds}
        self._options = options
        self._slots: list[str | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
        self.replicas: dict[str, list[str]] = {}
        # Slots per master, counted when the map is learnt (health and
        # /metrics read it at every scrape).
        self._counts: dict[str, int] = {}
        self.refreshes = 0

    def master_of(self, key: bytes | str) -> str | None:
        """The master serving `key`'s slot, or None (not covered, or no map yet)."""
        return self._slots[key_slot(key.encode() if isinstance(key, str) else key)]

    def masters(self) -> list[str]:
        return sorted(self.replicas)

    def slot_counts(self) -> dict[str, int]:
        return dict(self._counts)

    def moved(self, slot: int, master: str) -> None:
        """A MOVED reply named the slot's new master: follow it at once
        (the full refresh that the link asks for next may take longer)."""
        previous = self._slots[slot]
        if previous is not None:
            self._counts[previous] -= 1
        self._slots[slot] = master
        self._counts[master] = self._counts.get(master, 0) + 1
        self.replicas.setdefault(master, [])

    async def refresh(self) -> None:
        """Learn the map anew; raises (the map unchanged) when no known node answers."""
        startup = [ClusterNode(host, port) for host, port in self._known.values()]
        cluster = RedisCluster(
            startup_nodes=startup, require_full_coverage=False, **self._options()
        )
        try:
            manager = cluster.nodes_manager
            await manager.initialize()
            slots: list[str | None] = [None] * REDIS_CLUSTER_HASH_SLOTS
            replicas: dict[str, list[str]] = {}
            counts: dict[str, int] = {}
            for slot, nodes in manager.slots_cache.items():
                master = nodes[0].name
                slots[slot] = master
                if master not in replicas:  # one node list per range: sort it once
                    replicas[master] = sorted(node.name for node in nodes[1:])
                counts[master] = counts.get(master, 0) + 1
            for node in manager.nodes_cache.values():
                self._known[node.name] = (node.host, int(node.port))
        finally:
            # RedisCluster.aclose() closes nothing unless its initialize()
            # ran, which would also fetch COMMAND (~100 KB) at every refresh.
            await manager.aclose()
            await manager.aclose("startup_nodes")
        self._slots, self.replicas, self._counts = slots, replicas, counts
        self.refreshes += 1
