"""A Sentinel setup of real processes: one master, one replica in sync, three
sentinels (quorum 2, down-after-milliseconds 1000, failover-timeout 5000).

Shared by tests/integration/test_sentinel.py (the service follows a
failover) and the ops tests (the drill's sentinel mode, check-production's
Sentinel items) through the `sentinel_setup` fixture in tests/conftest.py.
The harness's servers already run with repl-diskless-sync-delay 0, so the
replica's first sync takes milliseconds, not Debian's 5 s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scripts.harness.redis_server import RedisServer, RedisServers
from scripts.harness.waiting import wait_for

MASTER_NAME = "cachemaster"
QUORUM = 2
DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS = 1000, 5000


def sentinel_conf(directory: Path, master: RedisServer) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "sentinel.conf"  # sentinels rewrite it: one writable copy each
    conf.write_text(
        f"sentinel monitor {MASTER_NAME} 127.0.0.1 {master.port} {QUORUM}\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
    )
    return conf


def replica_in_sync(replica: RedisServer) -> bool:
    with replica.client() as client:
        return bool(client.info("replication").get("master_link_status") == "up")


@dataclass(frozen=True)
class SentinelSetup:
    master: RedisServer
    replica: RedisServer
    sentinels: list[RedisServer]
    master_name: str = MASTER_NAME

    @property
    def addresses(self) -> str:
        """REDIS_SENTINELS's value."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    def env(self) -> dict[str, str]:
        """The service's environment for this setup (a fresh dict each call)."""
        return {"REDIS_SENTINELS": self.addresses, "REDIS_SENTINEL_MASTER": self.master_name,
                # Only credentials, database and TLS are read from it.
                "REDIS_URL": "redis://127.0.0.1:1/0"}

    def wait_until_acquainted(self, timeout: float = 10.0,
                              error: type[Exception] = AssertionError) -> None:
        """Until each sentinel knows the replica and has heard the others'
        hellos (every 2 s on the master): before that, SENTINEL CKQUORUM counts
        fewer usable sentinels, and a kill of the master is not followed by a
        failover at once."""
        others = len(self.sentinels) - 1

        def acquainted() -> bool:
            for sentinel in self.sentinels:
                with sentinel.client() as client:
                    state = client.sentinel_master(self.master_name)
                    if (state["flags"], state["num-slaves"], state["num-other-sentinels"]) != (
                            "master", 1, others):
                        return False
            return True

        wait_for(acquainted, timeout, "the sentinels to know the replica and each other",
                 error=error)


def start_sentinel_setup(servers: RedisServers, base: Path) -> SentinelSetup:
    master = servers.start()
    replica = servers.start("--replicaof", "127.0.0.1", str(master.port))
    wait_for(lambda: replica_in_sync(replica), what="the replica in sync")
    sentinels = [servers.start("--sentinel", conf=sentinel_conf(base / f"sentinel-{i}", master))
                 for i in range(3)]
    return SentinelSetup(master, replica, sentinels)
