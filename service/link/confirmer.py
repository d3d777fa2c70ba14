"""Learns, off the request path, which acknowledged writes a replica has.

    every INTERVAL_S while writes are held (every IDLE_S otherwise), per
    master (one in single and Sentinel mode; each of a cluster's masters),
    on a connection of its own (never the auto-pipelined traffic one):
        mark = the held set's sequence now
        INFO replication ─► replicas, role, master_repl_offset
        (writes held, and a replica to ask:)
        SET {prefix}:~confirm… (a key in that master's slots) ─► WAIT 1 WAIT_MS
        ─► WAIT answered ≥ 1, or a replica's acknowledged offset has reached
           the master offset read after `mark` ─► held writes up to `mark` go

Why a heartbeat and WAIT: the replication offset is global, so a replica
that acknowledged the heartbeat has every write the master executed before
it, whichever connection made it; and WAIT blocks only the connection that
sends it, which here carries nothing else. Without WAIT (a Redis user not
allowed it) the offsets that replicas report about once a second confirm
instead, later.

A single master (REDIS_URL) settles writes on reply until it reports a
connected replica (looked at within INTERVAL_S of the link's first
`ready`, then every IDLE_S), and again once it reports none: without a
replica there is nothing a failover could lose them to. In
Sentinel and Cluster mode writes are held until a replica confirms them,
whatever the replica count: right after a failover the new master has no
replica for seconds, and that is exactly when a kill loses them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from service.link.classify import describe
from service.link.cluster import ClusterLink
from service.link.driver import RedisLink
from service.link.interface import Link
from service.link.pipeline import AutoPipeline
from service.link.probe import parse_info
from service.link.session import LinkSession, OptionalCommand, send_batch
from service.link.traced import TracedLink

log = logging.getLogger("roleready.redis.confirm")

INTERVAL_S = 0.02  # between rounds while writes are held
IDLE_S = 1.0  # between looks at the replica count while nothing is held
WAIT_MS = 100  # WAIT's own timeout: a replica acknowledges in a few ms
# Short: the key is noise in the keyspace (DBSIZE) once confirmations stop.
HEARTBEAT_TTL_MS = 1000
# Master offsets remembered per master for the offsets' way (about 1 s of rounds).
KEPT_OFFSETS = 64

Owns = Callable[[str], bool]


class Held(Protocol):
    """What the confirmer asks of the held writes (service.cache.unconfirmed)."""

    required: bool

    def mark(self) -> int: ...

    async def wait_pending(self, timeout_s: float) -> bool: ...

    def confirmed(self, mark: int, owns: Owns | None = None) -> int: ...

    def swept_through(self, mark: int) -> None: ...

    def settle_all(self) -> None: ...

    def __len__(self) -> int: ...


@dataclass
class _Master:
    """One master's side connection and what was learnt from it."""

    generation: int = -1
    pipeline: AutoPipeline | None = None
    heartbeat_key: str = ""
    replicas: int | None = None
    confirmed_mark: int = 0
    offsets: list[tuple[int, int]] = field(default_factory=list)  # (mark, master offset)


class Confirmer:
    def __init__(self, link: Link, held: Held, *, prefix: str, command_timeout_s: float) -> None:
        self._link = link.inner if isinstance(link, TracedLink) else link
        self._held = held
        self._prefix = prefix
        self._timeout_s = command_timeout_s + WAIT_MS / 1000
        self._masters: dict[str, _Master] = {}
        self._token = secrets.token_hex(8)
        self._wait_refused = False
        # Whether a round has read INFO yet: until then rounds come every
        # INTERVAL_S (a single master's replicas decide whether writes are held).
        self._learnt = False
        self._task: asyncio.Task[None] | None = None

    def replicas(self) -> dict[str, int | None]:
        """Connected replicas per master, as last seen."""
        return {name: master.replicas for name, master in self._masters.items()}

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="redis-replica-confirmer")

    async def close(self) -> None:
        """Stop; first one last round, so that what a replica already has is
        not left held (and replayed) at shutdown."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2 * self._timeout_s):
                await self._rounds(pending=len(self._held) > 0)
        for master in self._masters.values():
            await _close(master)

    async def _run(self) -> None:
        while True:
            pending = await self._held.wait_pending(IDLE_S if self._learnt else INTERVAL_S)
            # Real time, whatever the clock: a round polls a real server, and
            # a fake clock that jumps would make this loop spin.
            await asyncio.sleep(INTERVAL_S)
            await self._rounds(pending)

    async def _rounds(self, pending: bool) -> None:
        """One round on every master the link is ready on."""
        targets = self._targets()
        for gone in set(self._masters) - {name for name, _, _ in targets}:
            await _close(self._masters.pop(gone))
        if not targets:
            return
        await asyncio.gather(*(self._round(name, node, owns, pending)
                               for name, node, owns in targets))
        if pending:
            self._held.swept_through(min(self._masters[name].confirmed_mark
                                         for name, _, _ in targets))

    def _targets(self) -> list[tuple[str, RedisLink, Owns | None]]:
        link = self._link
        if isinstance(link, ClusterLink):
            slots = link.slots
            return [(name, node, _owner(slots.master_of, name))
                    for name, node in list(link.nodes.items()) if node.is_ready()]
        if isinstance(link, RedisLink) and link.is_ready():
            return [("", link, None)]
        return []

    async def _round(self, name: str, node: RedisLink, owns: Owns | None, pending: bool) -> None:
        """INFO replication; then, with writes held and a replica to ask,
        the heartbeat and WAIT (a replica-less master is not asked to wait)."""
        session = node.session()
        master = self._masters.setdefault(name, _Master())
        if session is None:
            return
        mark = self._held.mark()  # before anything is sent: see the module's docstring
        try:
            pipeline = await self._pipeline(master, session)
            (raw,) = await send_batch(pipeline, [OptionalCommand(("INFO", "replication"))])
            info = parse_info(raw)
            if info.get("role", "master") != "master":
                return  # demoted: the link follows; nothing is confirmed here
            master.replicas = _int(info.get("connected_slaves"))
            self._learnt = True
            if self._link.mode == "single":
                self._single_master(master.replicas)
            if not pending or master.replicas == 0:
                return
            by_offsets = _offset_mark(master, info, mark)
            key = self._heartbeat_key(master, name)
            replies = await send_batch(pipeline, [
                OptionalCommand(("SET", key, self._token, "PX", HEARTBEAT_TTL_MS)),
                OptionalCommand(("WAIT", 1, WAIT_MS))])
        except Exception as exc:  # noqa: BLE001 - the traffic connection decides about the link
            log.debug("confirmation round on %s failed: %s", name or "the master", describe(exc))
            await _close(master)
            return
        confirmed = mark if self._waited(replies[1]) else by_offsets
        if confirmed is not None:
            self._held.confirmed(confirmed, owns)
            master.confirmed_mark = max(master.confirmed_mark, confirmed)

    def _single_master(self, replicas: int | None) -> None:
        """REDIS_URL's master: writes settle on reply while it has no replica."""
        if replicas == 0:
            if self._held.required:
                self._held.required = False
            self._held.settle_all()
        elif replicas is not None and not self._held.required:
            self._held.required = True

    def _waited(self, reply: Any) -> bool:
        if reply is None:
            if not self._wait_refused:
                self._wait_refused = True
                log.warning("WAIT was refused (the Redis user needs +wait): replica "
                            "confirmations now come from replica offsets, about once a second")
            return False
        return int(reply) >= 1

    async def _pipeline(self, master: _Master, session: LinkSession) -> AutoPipeline:
        if master.pipeline is None or master.generation != session.generation:
            await _close(master)
            pipeline = AutoPipeline(session.client, self._timeout_s)
            async with asyncio.timeout(self._timeout_s):
                await pipeline.open()
            master.pipeline, master.generation = pipeline, session.generation
            master.offsets.clear()  # offsets read on another master (or session) say nothing
        return master.pipeline

    def _heartbeat_key(self, master: _Master, name: str) -> str:
        """`{prefix}:~confirm`; in a cluster, one with a hash tag in the master's slots."""
        link = self._link
        if not isinstance(link, ClusterLink):
            return f"{self._prefix}:~confirm"
        if link.slots.master_of(master.heartbeat_key) != name:
            for tag in range(100_000):
                key = f"{self._prefix}:~confirm:{{{tag}}}"
                if link.slots.master_of(key) == name:
                    master.heartbeat_key = key
                    break
        return master.heartbeat_key


def _owner(master_of: Callable[[str], str | None], name: str) -> Owns:
    return lambda redis_key: master_of(redis_key) == name


def _offset_mark(master: _Master, info: dict[str, str], mark: int) -> int | None:
    """The offsets' way: the latest mark whose master offset (read after
    the mark was taken) a replica has acknowledged, if any."""
    offset = _int(info.get("master_repl_offset"))
    if offset is None:
        return None
    acked = max((_replica_offset(value) for name, value in info.items()
                 if name.startswith("slave") and name[5:].isdigit()), default=-1)
    if offset <= acked:
        master.offsets.clear()
        return mark
    reached = [m for m, o in master.offsets if o <= acked]
    master.offsets = [(m, o) for m, o in master.offsets if o > acked][-KEPT_OFFSETS:]
    master.offsets.append((mark, offset))
    return max(reached) if reached else None


def _replica_offset(value: str) -> int:
    fields = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
    return _int(fields.get("offset")) or -1


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


async def _close(master: _Master) -> None:
    pipeline, master.pipeline = master.pipeline, None
    if pipeline is not None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1.0):
                await pipeline.close()
