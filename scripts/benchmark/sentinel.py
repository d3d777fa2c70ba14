"""A Sentinel setup for the failover section: one master, one replica, three
sentinels (quorum 2, down-after-milliseconds 1000, failover-timeout 5000).

    master ◄── replica (in sync before the sentinels start)
       ▲
    sentinel-0, -1, -2  (each with its own writable sentinel.conf: they rewrite it)

`start_sentinels` returns once they answer; `wait_discovered()` (~2 s: they
find each other by hello messages every 2 s), once every sentinel knows the
replica and the two other sentinels, so that a kill is followed by a
failover at once rather than after the discovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scripts.benchmark.processes import Processes, RedisProcess
from scripts.benchmark.rediscli import HOST, info, sentinel_master, wait_until

MASTER_NAME = "benchmaster"
QUORUM = 2
SENTINELS = 3
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
SETUP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class SentinelSetup:
    master: RedisProcess
    replica: RedisProcess
    sentinels: tuple[RedisProcess, ...]

    @property
    def service_env(self) -> dict[str, str]:
        return {
            "REDIS_SENTINELS": ",".join(f"{HOST}:{s.port}" for s in self.sentinels),
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
            # Sentinel mode reads only credentials, database and TLS from it.
            "REDIS_URL": f"redis://{HOST}:1/0",
        }

    def wait_discovered(self) -> None:
        wait_until(lambda: all(_knows_everyone(s) for s in self.sentinels),
                   "sentinels knowing the replica and each other", SETUP_TIMEOUT_S)


def address(server: RedisProcess) -> str:
    return f"{HOST}:{server.port}"


def _conf(directory: Path, master: RedisProcess) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "sentinel.conf"
    conf.write_text(
        f"sentinel monitor {MASTER_NAME} {HOST} {master.port} {QUORUM}\n"
        f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
    )
    return conf


def _knows_everyone(sentinel: RedisProcess) -> bool:
    fields = sentinel_master(sentinel.port, MASTER_NAME)
    return (fields.get("flags") == "master" and fields.get("num-slaves") == "1"
            and fields.get("num-other-sentinels") == str(SENTINELS - 1))


def start_sentinels(procs: Processes) -> SentinelSetup:
    master = procs.redis("master")
    replica = procs.redis("replica", "--replicaof", HOST, str(master.port))
    wait_until(lambda: info(replica.port, "replication").get("master_link_status") == "up",
               "replica in sync", SETUP_TIMEOUT_S)
    sentinels = tuple(
        procs.redis(f"sentinel-{i}", "--sentinel",
                    conf=_conf(procs.run_dir / f"sentinel-{i}", master))
        for i in range(SENTINELS)
    )
    return SentinelSetup(master, replica, sentinels)
