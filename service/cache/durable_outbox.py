"""The outbox kept in CACHE_STATE_DIR as well, so that it survives the process.

    record / settle / purge ─► the outbox (memory), and a record appended to
        this process's state file (service.cache.state_file)
    the PUT's or DELETE's answer waits for `persisted()`: the fsync
    replay (reconnect, the stranded-write timer, shutdown) ─► the file is
        rewritten with what is still owed (emptied when nothing is)
    start ─► the files of dead processes (`restore`): each key's last
        operation goes into this outbox and this file, then their files go

The outbox alone decides what is owed and how it is replayed
(CACHE_OUTAGE_REPLAY); this only keeps a copy on disk. Under
CACHE_OUTAGE_REPLAY=write a PUT's record carries the value this instance
holds (what replay would SET), so a restarted instance can write it as the
dead one would have; under `delete` it carries none (replay DELs the key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from service.cache.codec import Stamp
from service.cache.memory import MemoryTier
from service.cache.outbox import PUT, Outbox
from service.cache.redis_tier import RedisTier
from service.cache.state_file import Orphan, StateFile, adopt
from service.cache.state_records import (
    DELETE,
    PURGE,
    SETTLE,
    TAG,
    Pending,
    Record,
    encode,
    fold,
)
from service.link.session import ReplayReport, Send

log = logging.getLogger("roleready.cache")
# Rewrite the file once it holds this many records more than are owed.
COMPACT_SLACK = 1000


class DurableOutbox(Outbox):
    def __init__(
        self, max_keys: int, state: StateFile, memory: MemoryTier, mode: str,
        wall: Callable[[], float],
    ) -> None:
        super().__init__(max_keys)
        self.state = state
        self._memory = memory
        self._mode = mode
        self._wall = wall
        # Namespaces whose sweep the file already holds.
        self._swept_on_file: set[str] = set()
        self.write_failures = 0
        self.damaged_files = 0  # dead processes' files read only in part
        # The file may end in a partial record (a failed append): rewrite it
        # before anything more is appended after it.
        self._rewrite_due = False
        # Records the last rewrite put in the file (0: it holds nothing).
        self._on_file = 0
        self.restored_keys = 0  # keys taken over from them at start

    def record(self, namespace: str, key: str, operation: str) -> None:
        super().record(namespace, key, operation)
        if self._sweep:  # overflowed: the namespaces are what is owed
            for swept in sorted(self._sweep - self._swept_on_file):
                self._append(Record(PURGE, swept, None, self._now_ms()))
                self._swept_on_file.add(swept)
            return
        self._append(self._owed_record(f"{namespace}:{key}", operation))

    def settle(self, namespace: str, key: str) -> None:
        if f"{namespace}:{key}" in self._ops:
            super().settle(namespace, key)
            self._append(Record(SETTLE, namespace, key, self._now_ms()))

    def purge(self, namespace: str) -> None:
        super().purge(namespace)
        self._append(Record(PURGE, namespace, None, self._now_ms()))

    def record_tag(self, namespace: str, tag: str) -> None:
        super().record_tag(namespace, tag)
        self._append(Record(TAG, namespace, tag, self._now_ms()))

    async def persisted(self) -> None:
        """Returns once everything recorded is on disk. A disk that refuses
        is logged and counted, never the caller's error: the change is
        still held in memory, as without a state directory."""
        try:
            if self._rewrite_due:
                await self.compact()
            await self.state.synced()
            if self.state.appended_since_rewrite > len(self._ops) + COMPACT_SLACK:
                await self.compact()
        except OSError as exc:
            self._failed(exc)

    async def replay(
        self, send: Send, redis: RedisTier, memory: MemoryTier, mode: str, *,
        owns: Callable[[str], bool] | None = None, others_ready: bool = True,
        applied: Callable[[str, str], None] | None = None,
    ) -> ReplayReport | None:
        try:
            return await super().replay(
                send, redis, memory, mode, owns=owns, others_ready=others_ready, applied=applied)
        finally:
            # Whatever was applied leaves the file too (a record left there
            # would be replayed again after a crash, perhaps over a newer
            # value); a file known to be empty stays as it is.
            if self._on_file or self.state.appended_since_rewrite:
                try:
                    await self.compact()
                except OSError as exc:
                    self._failed(exc)

    async def compact(self) -> None:
        """The file rewritten with exactly what is still owed."""
        owed = [self._owed_record(name, op) for name, (op, _) in self._ops.items()]
        owed += [Record(PURGE, ns, None, self._now_ms()) for ns in sorted(self._sweep | self._purged)]
        for name in sorted(self.tags):
            namespace, _, tag = name.partition(":")
            owed.append(Record(TAG, namespace, tag, self._now_ms()))
        self._swept_on_file = set(self._sweep)
        await self.state.rewrite(b"".join(encode(record) for record in owed))
        self._on_file = len(owed)
        self._rewrite_due = False

    async def restore(self, orphans: list[Orphan]) -> int:
        """What dead processes' files still owed, made this outbox's (and
        this file's); their files are removed once this one holds it.
        Returns how many keys were taken over."""
        owed = _merged([fold(orphan.reading.records) for orphan in orphans])
        now_ms = self._now_ms()
        for name, record in owed.operations.items():
            namespace, _, key = name.partition(":")
            if record.op == PUT and self._mode == "write":
                self._hold(record, now_ms)
            self.record(namespace, key, record.op)
        for namespace in sorted(owed.namespaces):
            self.purge(namespace)
        for name in sorted(owed.tags):
            namespace, _, tag = name.partition(":")
            self.record_tag(namespace, tag)
        await self.compact()
        for orphan in orphans:
            orphan.remove()
        return len(owed.operations)

    async def close(self) -> None:
        """The file goes when nothing is owed; otherwise the next start takes it."""
        owed = bool(self._ops or self._sweep or self._purged or self.tags)
        await self.state.close(remove=not owed)

    def _hold(self, record: Record, now_ms: int) -> None:
        """A dead process's outage PUT, held in memory again as it held it
        (replay under CACHE_OUTAGE_REPLAY=write SETs what memory holds)."""
        fields = record.fields or {}
        remaining_ms = int(fields.get("until", 0)) - now_ms
        if record.value is None or remaining_ms <= 0 or record.key is None:
            return
        stamp = Stamp(fields.get("sa"), fields.get("ex"), str(fields.get("v", "")))
        self._memory.put(record.namespace, record.key, record.value, str(fields.get("ct")),
                         remaining_ms, stamp=stamp)

    def _owed_record(self, name: str, operation: str) -> Record:
        namespace, _, key = name.partition(":")
        now_ms = self._now_ms()
        if operation != PUT or self._mode != "write":
            return Record(operation, namespace, key, now_ms)
        held = self._memory.get_by_name(name)
        if held is None or held.stamp is None:
            return Record(PUT, namespace, key, now_ms)
        fields: dict[str, Any] = {
            "ct": held.content_type, "sa": held.stamp.stored_at_ms,
            "ex": held.stamp.expires_at_ms, "v": held.stamp.version,
            "until": now_ms + self._memory.remaining_ms(held),
        }
        return Record(PUT, namespace, key, now_ms, value=held.value, fields=fields)

    def _append(self, record: Record) -> None:
        try:
            self.state.append(encode(record))
        except OSError as exc:
            self._rewrite_due = True
            self._failed(exc)

    def _failed(self, exc: OSError) -> None:
        self.write_failures += 1
        log.error("CACHE_STATE_DIR: could not write %s (%s): outage writes held in memory "
                  "only until it can", self.state.path, exc.strerror or exc)

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)


def _merged(pendings: list[Pending]) -> Pending:
    """Several dead processes' debts as one. A key two of them owed is
    deleted: which of their operations came last cannot be known, and a
    miss is always allowed."""
    operations: dict[str, Record] = {}
    namespaces: set[str] = set()
    tags: set[str] = set()
    for pending in pendings:
        namespaces |= pending.namespaces
        tags |= pending.tags
        for name, record in pending.operations.items():
            if name in operations:
                record = record._replace(op=DELETE, value=None, fields=None)
            operations[name] = record
    return Pending(operations, namespaces, tags)


async def open_outbox(
    state_dir: str | None, max_keys: int, memory: MemoryTier, mode: str,
    wall: Callable[[], float],
) -> Outbox:
    """The outbox: in memory only without a state directory; with one, kept
    in this process's file, after taking over what dead processes' files
    still owed (a damaged file is read up to its last whole record)."""
    if state_dir is None:
        return Outbox(max_keys)
    directory = Path(state_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    outbox = DurableOutbox(max_keys, StateFile(directory), memory, mode, wall)
    orphans = adopt(directory, outbox.state.path)
    for orphan in orphans:
        reading = orphan.reading
        if reading.problem is not None or reading.unknown:
            outbox.damaged_files += 1
            log.warning(
                "CACHE_STATE_DIR: %s: %s; %d whole records read, %d bytes ignored, "
                "%d records of unknown kind skipped", orphan.path.name,
                reading.problem or "records of unknown kind", len(reading.records),
                reading.ignored_bytes, reading.unknown)
    if orphans:
        taken = await outbox.restore(orphans)
        outbox.restored_keys = taken
        log.info("CACHE_STATE_DIR: took over %d outage writes from %d files of stopped "
                 "processes (applied before the link is ready)", taken, len(orphans))
    return outbox
