"""Writes and deletes that did not reach Redis, applied when it is back.

    PUT / DELETE while Redis is unreachable (or its command failed)
        ─► outbox: memory name → last operation (bounded, de-duplicated)
    reconnect, before `ready` (the link calls `replay` through the new connection)
        ─► DEL every key (CACHE_OUTAGE_REPLAY=delete, the default), or
           SET the value this instance holds for a PUT (=write), DEL for a DELETE
           (and DEL for a SET that a full Redis refuses: OOM)
        ─► overflowed? SCAN + DEL every key of the namespaces written meanwhile

Without it, an instance's outage writes would be undone for everyone else:
Redis still holds the value from before the outage. Replayed changes reach
the other instances as invalidations, like any write. Deleting is the safe
default when several instances wrote the same key while cut off: none of
their values can be known to be the latest, and a miss is always allowed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, cast

from redis.exceptions import OutOfMemoryError

from service.cache.memory import MemoryTier
from service.cache.redis_tier import RedisTier
from service.link.session import RefusableWrite, ReplayReport, Request, Send

log = logging.getLogger("roleready.cache")
PUT, DELETE = "put", "delete"
SCAN_COUNT = 1000
DEL_BATCH = 500
# Replay passes per reconnect (writes keep arriving while one is applied).
REPLAY_PASSES = 5


class Outbox:
    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        # memory name -> (operation, sequence of the record)
        self._ops: dict[str, tuple[str, int]] = {}
        self._sweep: set[str] = set()
        # Namespaces purged (DELETE /cache/{namespace}) while Redis was unavailable.
        self._purged: set[str] = set()
        self._seq = 0
        self.overflows = 0
        # Set whenever something becomes owed: the stranded-write timer
        # (service.cache.outbox_timer) sleeps on it while nothing is.
        self.recorded = asyncio.Event()
        # Tag invalidations (`namespace:tag`, service.cache.tags) not yet applied.
        self.tags: set[str] = set()

    def __len__(self) -> int:
        return len(self._ops)

    def record(self, namespace: str, key: str, operation: str) -> None:
        self.recorded.set()
        if self._sweep:  # already overflowed: the namespace is what counts
            self._sweep.add(namespace)
            return
        self._seq += 1
        name = f"{namespace}:{key}"
        self._ops.pop(name, None)
        self._ops[name] = (operation, self._seq)
        if len(self._ops) > self.max_keys:
            self._sweep = {n.partition(":")[0] for n in self._ops}
            self._ops.clear()
            self.overflows += 1
            log.warning(
                "outbox overflowed (CACHE_OUTBOX_MAX_KEYS=%d): every key of namespaces %s "
                "will be deleted from Redis at reconnect", self.max_keys, sorted(self._sweep),
            )

    def purge(self, namespace: str) -> None:
        """The namespace was purged without Redis: every key of it is swept
        at reconnect, and what was recorded for it before is moot."""
        head = f"{namespace}:"
        for name in [name for name in self._ops if name.startswith(head)]:
            del self._ops[name]
        self._purged.add(namespace)
        self.recorded.set()

    def namespaces(self) -> set[str]:
        """The namespaces of everything owed (what shutdown reports)."""
        return {name.partition(":")[0] for name in self._ops} | self._sweep | self._purged

    async def persisted(self) -> None:
        """Returns once what was recorded survives the process: at once here,
        held in memory only (CACHE_STATE_DIR: service.cache.durable_outbox)."""

    def record_tag(self, namespace: str, tag: str) -> None:
        """A tag invalidated without Redis: applied first at reconnect."""
        self.tags.add(f"{namespace}:{tag}")

    def settle(self, namespace: str, key: str) -> None:
        """A later operation on the key reached Redis: nothing to replay."""
        self._ops.pop(f"{namespace}:{key}", None)

    async def replay(
        self, send: Send, redis: RedisTier, memory: MemoryTier, mode: str, *,
        owns: Callable[[str], bool] | None = None, others_ready: bool = True,
        applied: Callable[[str, str], None] | None = None,
    ) -> ReplayReport | None:
        """Apply everything recorded so far; None when there was nothing.
        Raises (the attempt fails) when Redis does; what was not applied stays.

        Requests are still answered from memory while this awaits Redis, and
        their writes land here too: passes repeat until one ends with nothing
        new (up to REPLAY_PASSES), so that what memory forgets right after
        has reached Redis.

        A cluster's master (`owns`: which Redis keys are its) replays its
        own keys and sweeps its own part of an overflowed namespace; the
        overflow is settled by the last master to come back (`others_ready`).

        `applied(name, operation)` hears of each key Redis carried out (a
        replayed change is a write like any other: it awaits a replica's
        confirmation, service.cache.unconfirmed)."""
        started = time.perf_counter()
        keys = swept = refused = 0
        namespaces: set[str] = set()
        for _ in range(REPLAY_PASSES):
            ops = {name: record for name, record in self._ops.items()
                   if owns is None or owns(redis.key_of(name))}
            sweep = (self._sweep | self._purged) - namespaces
            if not ops and not sweep:
                break
            # Each batch is built as it is sent: while the link is ready (the
            # stranded-write timer) a PUT made meanwhile reaches Redis after it.
            deleted: set[str] = set()
            for names in _chunks(list(ops), DEL_BATCH):
                deleted |= await _apply(send, names, ops, redis, memory, mode)
            refused += len(deleted)
            if applied is not None:
                for name, (op, _) in ops.items():
                    applied(name, DELETE if name in deleted else op)
            for namespace in sorted(sweep):
                swept += await _sweep(send, redis, namespace)
            for name, (_, seq) in ops.items():  # what was recorded meanwhile stays
                if self._ops.get(name, (None, None))[1] == seq:
                    del self._ops[name]
            keys += len(ops)
            namespaces |= sweep
        if others_ready:
            self._sweep -= namespaces
            self._purged -= namespaces
        if not keys and not namespaces:
            return None
        return ReplayReport(keys, tuple(sorted(namespaces)), swept, time.perf_counter() - started,
                            refused=refused)


async def _apply(send: Send, names: list[str], ops: dict[str, tuple[str, int]],
                 redis: RedisTier, memory: MemoryTier, mode: str) -> set[str]:
    """One batch of the replay; the names whose write Redis refused for lack
    of memory (OOM under `noeviction`), deleted instead: a full Redis would
    otherwise fail every attempt, and the key would keep the value the
    write replaced. DEL is allowed while Redis is out of memory, and a miss
    is always allowed."""
    commands = [_command(name, ops[name][0], redis, memory, mode) for name in names]
    replies = await send(cast(list[Sequence[Any]], commands))
    refused = [name for name, reply in zip(names, replies, strict=True)
               if isinstance(reply, OutOfMemoryError)]
    if refused:
        await send([redis.delete_command(*_split(name)) for name in refused])
    return set(refused)


def _command(name: str, op: str, redis: RedisTier, memory: MemoryTier, mode: str) -> Request:
    namespace, key = _split(name)
    if op == PUT and mode == "write":
        held = memory.get_by_name(name)
        remaining_ms = memory.remaining_ms(held) if held is not None else 0
        if held is not None and remaining_ms > 0:
            return RefusableWrite(tuple(redis.set_command(
                namespace, key, held.value, held.content_type, remaining_ms, held.stamp
            )))
    return redis.delete_command(namespace, key)


def _split(name: str) -> tuple[str, str]:
    namespace, _, key = name.partition(":")
    return namespace, key


async def _sweep(send: Send, redis: RedisTier, namespace: str) -> int:
    """DEL every key of `namespace` in Redis, found with SCAN (never KEYS)."""
    pattern = redis.pattern(namespace)
    cursor, deleted = b"0", 0
    while True:
        (reply,) = await send([("SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT)])
        cursor, found = reply
        if found:
            # One DEL per key: in a cluster, keys of several slots in one
            # DEL are refused (CROSSSLOT); pipelined, it is one round trip.
            counts = await send([("DEL", key) for key in found])
            deleted += sum(int(count) for count in counts)
        if cursor in (b"0", 0, "0"):
            return deleted


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
