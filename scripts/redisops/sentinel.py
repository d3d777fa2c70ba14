"""Ask Redis Sentinels about a master, through redis-cli (SENTINEL ... commands).

Used by scripts/check-production (is the Sentinel setup sound?) and by
scripts/failover-drill's sentinel mode (where is the master, promote a
replica). redis-cli prints a reply without a terminal as one line per
element, nested arrays flattened:

    SENTINEL MASTER <name>    name, mm, ip, 10.0.0.5, port, 6379, flags, master, ...
    SENTINEL REPLICAS <name>  the same field/value pairs per replica, each
                              starting with "name" (a flat list of records)

so `records` regroups the pairs. Standard library only, like the rest of
scripts/redisops/.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from scripts.redisops.rediscli import Endpoint, OpsError, RedisCli

# Sentinel flags that mean a node cannot serve (or be promoted).
DOWN_FLAGS = frozenset({"s_down", "o_down", "disconnected"})


def parse_host_ports(text: str) -> list[tuple[str, int]]:
    """"host:port,host:port" (REDIS_SENTINELS's format) as pairs; ValueError if malformed."""
    pairs = []
    for item in (part.strip() for part in text.split(",")):
        host, sep, port = item.rpartition(":")
        if not item or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"expected host:port, got {item!r}")
        pairs.append((host.strip("[]"), int(port)))
    return pairs


def sentinel_password(environ: Mapping[str, str]) -> str | None:
    """REDIS_SENTINEL_PASSWORD_FILE's content over REDIS_SENTINEL_PASSWORD, as
    the service reads them; OpsError (usage) when the file cannot be read."""
    path = environ.get("REDIS_SENTINEL_PASSWORD_FILE")
    if not path:
        return environ.get("REDIS_SENTINEL_PASSWORD") or None
    try:
        return Path(path).read_text(encoding="utf-8").strip() or None
    except OSError as exc:
        raise OpsError(f"REDIS_SENTINEL_PASSWORD_FILE: {exc}", 2) from exc


def pairs(text: str) -> list[tuple[str, str]]:
    lines = text.splitlines()
    return list(zip(lines[0::2], lines[1::2], strict=False))


def records(text: str) -> list[dict[str, str]]:
    """Field/value pairs regrouped into one dict per record (each starts with "name")."""
    grouped: list[dict[str, str]] = []
    for key, value in pairs(text):
        if key == "name" or not grouped:
            grouped.append({})
        grouped[-1][key] = value
    return grouped


def flags(record: dict[str, str]) -> set[str]:
    return set(record.get("flags", "").split(","))


def is_down(record: dict[str, str]) -> bool:
    return bool(flags(record) & DOWN_FLAGS)


@dataclass(frozen=True)
class Sentinel:
    """One sentinel and the master name it is asked about."""

    cli: RedisCli
    master_name: str

    @classmethod
    def at(cls, host: str, port: int, master_name: str, template: Endpoint,
           timeout: float = 5.0) -> Sentinel:
        """A sentinel at host:port with `template`'s TLS and password settings."""
        return cls(RedisCli(replace(template, host=host, port=port), timeout), master_name)

    @property
    def address(self) -> str:
        return f"{self.cli.endpoint.host}:{self.cli.endpoint.port}"

    def ping(self) -> None:
        self.cli.run("PING")

    def master_address(self) -> str:
        """host:port of the master; OpsError when this sentinel does not know the name."""
        lines = self.cli.run("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name).splitlines()
        if len(lines) != 2:  # a nil reply: the name is not monitored here
            raise OpsError(f"sentinel {self.address} monitors no master named "
                           f"{self.master_name!r}")
        return f"{lines[0]}:{lines[1]}"

    def master(self) -> dict[str, str]:
        return dict(pairs(self.cli.run("SENTINEL", "MASTER", self.master_name)))

    def replicas(self) -> list[dict[str, str]]:
        return records(self.cli.run("SENTINEL", "REPLICAS", self.master_name))

    def ckquorum(self) -> str:
        return self.cli.run("SENTINEL", "CKQUORUM", self.master_name)

    def failover(self) -> None:
        """SENTINEL FAILOVER: promote a replica now, without asking the others."""
        self.cli.run("SENTINEL", "FAILOVER", self.master_name)


def first_answer(sentinels: Sequence[Sentinel]) -> tuple[Sentinel, str]:
    """The first sentinel that names the master, and the address it names."""
    errors = []
    for sentinel in sentinels:
        try:
            return sentinel, sentinel.master_address()
        except OpsError as exc:
            errors.append(str(exc))
    raise OpsError("no sentinel named the master: " + "; ".join(errors))


def address(record: dict[str, str]) -> str:
    return f"{record.get('ip', '?')}:{record.get('port', '?')}"


def in_sync(replica: dict[str, str]) -> bool:
    """Could be promoted: its link to the master is up and no sentinel flags it down."""
    return replica.get("master-link-status") == "ok" and not is_down(replica)
