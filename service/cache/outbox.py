"""Writes and deletes that did not reach Redis, applied when it is back.

    PUT / DELETE while Redis is unreachable (or its command failed)
        ─► outbox: memory name → last operation (bounded, de-duplicated)
    reconnect, before `ready` (the link calls `replay` through the new connection)
        ─► DEL every key (CACHE_OUTAGE_REPLAY=delete, the default), or
           SET the value this instance holds for a PUT (=write), DEL for a DELETE
        ─► overflowed? SCAN + DEL every key of the namespaces written meanwhile

Without it, an instance's outage writes would be undone for everyone else:
Redis still holds the value from before the outage. Replayed changes reach
the other instances as invalidations, like any write. Deleting is the safe
default when several instances wrote the same key while cut off: none of
their values can be known to be the latest, and a miss is always allowed.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from service.cache.memory import MemoryTier
from service.cache.redis_tier import RedisTier
from service.link.session import ReplayReport, Send

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
        self._seq = 0
        self.overflows = 0

    def __len__(self) -> int:
        return len(self._ops)

    def record(self, namespace: str, key: str, operation: str) -> None:
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

    def settle(self, namespace: str, key: str) -> None:
        """A later operation on the key reached Redis: nothing to replay."""
        self._ops.pop(f"{namespace}:{key}", None)

    async def replay(
        self, send: Send, redis: RedisTier, memory: MemoryTier, mode: str
    ) -> ReplayReport | None:
        """Apply everything recorded so far; None when there was nothing.
        Raises (the attempt fails) when Redis does; what was not applied stays.

        Requests are still answered from memory while this awaits Redis, and
        their writes land here too: passes repeat until one ends with nothing
        new (up to REPLAY_PASSES), so that what memory forgets right after
        has reached Redis."""
        if not self._ops and not self._sweep:
            return None
        started = time.perf_counter()
        keys = swept = 0
        namespaces: set[str] = set()
        for _ in range(REPLAY_PASSES):
            if not self._ops and not self._sweep:
                break
            ops, sweep = dict(self._ops), set(self._sweep)
            commands = [_command(name, op, redis, memory, mode) for name, (op, _) in ops.items()]
            for batch in _chunks(commands, DEL_BATCH):
                await send(batch)
            for namespace in sorted(sweep):
                swept += await _sweep(send, redis, namespace)
            for name, (_, seq) in ops.items():  # what was recorded meanwhile stays
                if self._ops.get(name, (None, None))[1] == seq:
                    del self._ops[name]
            self._sweep -= sweep
            keys += len(ops)
            namespaces |= sweep
        return ReplayReport(keys, tuple(sorted(namespaces)), swept, time.perf_counter() - started)


def _command(name: str, op: str, redis: RedisTier, memory: MemoryTier, mode: str) -> list[Any]:
    namespace, _, key = name.partition(":")
    if op == PUT and mode == "write":
        held = memory.get_by_name(name)
        remaining_ms = memory.remaining_ms(held) if held is not None else 0
        if held is not None and remaining_ms > 0:
            return redis.set_command(namespace, key, held.value, held.content_type, remaining_ms)
    return redis.delete_command(namespace, key)


async def _sweep(send: Send, redis: RedisTier, namespace: str) -> int:
    """DEL every key of `namespace` in Redis, found with SCAN (never KEYS)."""
    pattern = redis.pattern(namespace)
    cursor, deleted = b"0", 0
    while True:
        (reply,) = await send([("SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT)])
        cursor, found = reply
        if found:
            (count,) = await send([("DEL", *found)])
            deleted += int(count)
        if cursor in (b"0", 0, "0"):
            return deleted


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
