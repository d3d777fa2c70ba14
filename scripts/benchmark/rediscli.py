"""What the failover section asks Redis, the way an operator would: redis-cli.

Every question is one `redis-cli -p PORT ...` on loopback; an unreachable
node answers "" (a killed master is expected to be unreachable). Parsers for
the three answers it reads: INFO sections (`field:value` lines), SENTINEL
MASTER (field and value on alternate lines) and CLUSTER NODES.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

from scripts.benchmark.processes import BenchError

HOST = "127.0.0.1"
CLI_TIMEOUT_S = 5.0
POLL_S = 0.05


def redis_cli(port: int, *args: str) -> str:
    """The command's output, or "" when the node cannot be reached."""
    try:
        done = subprocess.run(["redis-cli", "-h", HOST, "-p", str(port), *args],
                              capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout if done.returncode == 0 else ""


def info(port: int, section: str) -> dict[str, str]:
    fields = {}
    for line in redis_cli(port, "INFO", section).splitlines():
        name, colon, value = line.strip().partition(":")
        if colon:
            fields[name] = value
    return fields


def sentinel_master(port: int, name: str) -> dict[str, str]:
    """SENTINEL MASTER <name> as a dict (redis-cli prints field, value, field...)."""
    lines = redis_cli(port, "SENTINEL", "MASTER", name).splitlines()
    return dict(zip(lines[::2], lines[1::2], strict=False))


FAILING_FLAGS = frozenset({"fail", "fail?", "noaddr", "handshake"})


@dataclass(frozen=True)
class ClusterNode:
    """One line of CLUSTER NODES, as far as the failover section reads it."""

    node_id: str
    port: int
    is_master: bool
    failing: bool  # flagged failed (or suspected), unreachable or not yet met
    myself: bool  # the node that answered
    master_id: str | None
    slots: tuple[tuple[int, int], ...]

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"


def cluster_nodes(port: int) -> list[ClusterNode]:
    """CLUSTER NODES as seen from `port` (slots in migration, `[...]`, left out)."""
    nodes = []
    for line in redis_cli(port, "CLUSTER", "NODES").splitlines():
        fields = line.split()
        if len(fields) < 8:
            continue
        flags = set(fields[2].split(","))
        ranges = [item.partition("-") for item in fields[8:] if not item.startswith("[")]
        nodes.append(ClusterNode(
            fields[0], int(fields[1].split("@")[0].rsplit(":", 1)[1]), "master" in flags,
            bool(flags & FAILING_FLAGS), "myself" in flags,
            None if fields[3] == "-" else fields[3],
            tuple((int(low), int(high or low)) for low, _, high in ranges),
        ))
    return nodes


def wait_until(ready: Callable[[], bool], what: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        if time.monotonic() > deadline:
            raise BenchError(f"no {what} within {timeout_s:.0f} s")
        time.sleep(POLL_S)
