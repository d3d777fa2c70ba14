"""The two-tier cache: memory first, then Redis, then a miss.

    get ─► memory ──hit──► Lookup(MEMORY)
             │miss
             ▼ (only while the link is ready; otherwise straight to a miss)
           Redis: GET + PTTL in one round trip, shared by concurrent misses of
           the key (reads.py) ──hit──► fill memory ─► Lookup(REDIS)
             │miss / unavailable
             ▼
           None

    write ─► stamp (stored at, logical expiry, version: codec.py, shared by both tiers)
          ─► memory, then Redis (SET PX): Redis unavailable ─► MEMORY_FALLBACK
             too large for memory ─► Redis only, then drop memory's older copy
    delete ─► memory, then Redis (DEL)

A Redis failure is never the caller's problem: the operation completes on
the memory tier ("fall back to memory"), except for a value too large for
memory, which Redis alone can hold: with Redis unavailable it is not stored
anywhere (NOT_STORED) and nothing changes.

A read is two calls, `get_memory` (synchronous) and `get_redis` (after a
memory miss), so the HTTP handler answers a memory hit without creating and
awaiting a coroutine; `get` is the two together.

Coherence across instances: the link tells this cache (`invalidated`) when
Redis says a key under the prefix changed, and the memory copy goes; when
the link (re)connects (`reconnected`), every memory entry goes, since
messages sent while it was down are lost. A fill from Redis whose key
changed while the GET was in flight is answered but not kept (FillGuard),
and no miss arriving after the change joins that read (SharedReads).

Tags (service.cache.tags): a tagged entry is served only while none of its
tags was invalidated since it was written, checked on every hit; a change to
a tag record heard from Redis makes that record unknown, not the entries. A
tagged write keeps its records alive (service.cache.tag_writes), with its
ENSUREs in the value's own batch; an untagged one sends its SET alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, NamedTuple

from service.cache import codec
from service.cache.codec import Stamp, Tagged, new_stamp
from service.cache.decodings import Decodings
from service.cache.entry import Entry
from service.cache.memory import MemoryTier
from service.cache.outbox import DELETE, PUT, Outbox
from service.cache.reads import SharedReads
from service.cache.redis_tier import TAG_HEAD, RedisTier, StoredValue
from service.cache.stats import CacheStats
from service.cache.tag_state import TagState
from service.cache.tag_writes import Upkeep
from service.cache.tag_writes import prepare as prepare_tags
from service.cache.tag_writes import put as put_upkept
from service.cache.tags import checked as tag_checked
from service.cache.tags import replay as replay_tags
from service.cache.unconfirmed import Unconfirmed
from service.link.session import ReplayReport, Send


class Source:
    """Where a hit came from; the values are the X-Cache header's. Plain
    strings, not an Enum: a hit's headers are found by them, and an Enum
    member hashes in Python on every lookup."""

    MEMORY: Final = "hit-memory"
    REDIS: Final = "hit-redis"


class Lookup(NamedTuple):
    value: bytes
    content_type: str
    source: str  # a Source value
    stamp: Stamp | None
    # Past its TTL, within the namespace's stale window (only ever handed to
    # a caller that asked for stale values).
    stale: bool = False


class Write:
    """Where a PUT landed (plain strings, as `Source`: read on every PUT)."""

    STORED: Final = "stored"  # in Redis (and in memory when it fits)
    MEMORY_FALLBACK: Final = "memory_fallback"  # Redis unavailable, or memory-only mode
    NOT_STORED: Final = "not_stored"  # too large for memory, and Redis unavailable


class TwoTierCache:
    """(Batches of keys: service.cache.batch, which uses the steps here.)"""

    def __init__(
        self,
        memory: MemoryTier,
        redis: RedisTier | None,
        namespace_ttls_ms: Mapping[str, int],
        stats: CacheStats,
        outbox: Outbox | None = None,
        outage_replay: str = "delete",
        *,
        wall: Callable[[], float],
        unconfirmed: Unconfirmed | None = None,
    ) -> None:
        self.memory = memory
        self.redis = redis
        self.namespace_ttls_ms = namespace_ttls_ms
        self.stats = stats
        # What did not reach Redis (None: nothing is replayed, memory-only).
        self.outbox = outbox if redis is not None else None
        self._outage_replay = outage_replay
        # Writes the master answered that no replica has confirmed yet
        # (None: REDIS_REPLICA_CONFIRM=off, or memory-only).
        self.unconfirmed = unconfirmed if self.outbox is not None else None
        # The injected clock's wall time (epoch seconds): a PUT's stored-at.
        self._wall = wall
        self._reads = SharedReads(stats)
        # Batch reads' decodings of what Redis returned (service.cache.batch_reads).
        self.decodings = Decodings()
        # What this instance knows of tag records (service.cache.tags).
        self.tags = TagState(namespace_ttls_ms, redis.stale_ms if redis is not None else {},
                             memory_only=redis is None, now=memory.clock)
        # Held here too: the memory-hit path bumps it with one dict increment.
        self._namespace_memory_hits = stats.namespace_memory_hits
        # Told the memory name of every change, made here or heard from
        # Redis (None: everything changed); the leases' waiters listen.
        self.on_change: Callable[[str | None], None] | None = None

    async def get(self, namespace: str, key: str) -> Lookup | None:
        entry = self.get_memory(namespace, key)
        if entry is not None:
            return Lookup(entry.value, entry.content_type, Source.MEMORY, entry.stamp)
        return await self.get_redis(namespace, key)

    def get_memory(self, namespace: str, key: str, max_bytes: int | None = None) -> Entry | None:
        """The memory tier's entry (a counted memory hit), or None.

        A miss is counted by `get_redis`, which follows one: a caller that
        refuses the request after a miss (a bad key) leaves no count behind.
        An entry longer than `max_bytes` is None, not counted: its caller
        leaves it to another that reads it again (the front door leaves a
        large value to the GET handler, which counts the hit).
        """
        entry = self.memory.get_by_name(f"{namespace}:{key}")
        if entry is not None:
            # An untagged entry's only cost: this test.
            if entry.stamp is not None and entry.stamp.tags and self.drop_if_invalidated(
                namespace, key, entry
            ):
                return None
            if max_bytes is not None and len(entry.value) > max_bytes:
                return None
            self.stats.memory_hits += 1
            self._namespace_memory_hits[namespace] += 1
        return entry

    def drop_if_invalidated(self, namespace: str, key: str, entry: Entry) -> bool:
        """A tagged memory entry one of whose tags was invalidated since it
        was written: dropped from memory (the caller treats it as a miss)."""
        tags = entry.stamp.tags if entry.stamp is not None else ()
        if not tags or self.tags.valid(namespace, tags):
            return False
        self.tags.dropped(namespace, tags)
        self.memory.delete(namespace, key)
        return True

    def count_memory_hits(self, namespace: str, hits: int, misses: int) -> None:
        """A batch's memory pass (service.cache.batch), counted once: its
        hits are the ones its answer carries."""
        self.stats.memory_hits += hits
        self._namespace_memory_hits[namespace] += hits
        self.stats.memory_misses += misses

    async def get_redis(
        self, namespace: str, key: str, *, allow_stale: bool = False
    ) -> Lookup | None:
        """After `get_memory` missed (counted here): Redis's value, now
        remembered unless its key changed meanwhile, or None. Concurrent
        misses of one key share one read (only its leader remembers it).

        In a namespace with a stale window, a value past its logical expiry
        (its stamp's) is a miss, or, with `allow_stale`, a stale Lookup; it
        is never remembered: memory holds fresh values only."""
        self.stats.memory_misses += 1
        if self.redis is None:
            self.stats.misses += 1
            self.stats.namespace_misses[namespace] += 1
            return None
        stored, keep = await self._reads.read(self.redis, namespace, key,
                                              fill=self.memory.capacity > 0)
        if stored is not None and stored.stamp.tags:
            stored, keep = await tag_checked(self, namespace, key, stored, keep)
        return self._settle(namespace, key, stored, keep, allow_stale)

    def _settle(
        self, namespace: str, key: str, stored: StoredValue | None, keep: bool,
        allow_stale: bool = False,
    ) -> Lookup | None:
        """What a Redis read of `key` answers (counted), remembered in memory
        when `keep` says the read may be (a batch's replies are settled by
        the same rules, in one pass: service.cache.batch_reads)."""
        if stored is None:
            self.stats.misses += 1
            self.stats.namespace_misses[namespace] += 1
            return None
        fresh_ms = self._fresh_ms(namespace, stored.stamp)
        if fresh_ms is not None and fresh_ms <= 0:
            if not allow_stale:
                self.stats.misses += 1
                self.stats.namespace_misses[namespace] += 1
                return None
            self.stats.namespace_redis_hits[namespace] += 1
            return Lookup(stored.value, stored.content_type, Source.REDIS, stored.stamp, True)
        if keep:
            # Never longer than Redis keeps the key, even where the stamp's
            # logical expiry says the value stays fresh longer.
            ttl_ms = self.namespace_ttls_ms[namespace]
            if fresh_ms is not None:
                ttl_ms = min(ttl_ms, fresh_ms)
            if stored.ttl_ms is not None:
                ttl_ms = min(ttl_ms, stored.ttl_ms)
            self.memory.put(
                namespace, key, stored.value, stored.content_type, ttl_ms,
                from_redis=True, stamp=stored.stamp,
            )
        self.stats.namespace_redis_hits[namespace] += 1
        return Lookup(stored.value, stored.content_type, Source.REDIS, stored.stamp)

    async def tag_upkeep(self, namespace: str, tags: list[str]) -> Upkeep:
        """What a write of values with `tags` (distinct) made now stores of
        them, and the records it keeps alive (service.cache.tag_writes):
        its `commands` go ahead of the write, in its batch, and the batch's
        replies (None: it failed, or was never sent) to `tags_written`."""
        return await prepare_tags(self.tags, self.redis, namespace, tags)

    def tags_written(self, upkeep: Upkeep, replies: list[Any] | None) -> None:
        upkeep.settle(self.tags, replies)

    def _fresh_ms(self, namespace: str, stamp: Stamp | None) -> int | None:
        """How long a value of a namespace with a stale window stays fresh
        (<= 0: stale); None elsewhere, where Redis's own expiry is the TTL
        (and no instance's clock is compared with another's)."""
        if self.redis is None or not self.redis.stale_ms.get(namespace):
            return None
        return self.fresh_ms(stamp)

    def wall(self) -> float:
        """The injected clock's wall time (epoch seconds)."""
        return self._wall()

    def fresh_ms(self, stamp: Stamp | None) -> int | None:
        """How long a value stays fresh by its stamp; None for a value
        without a logical expiry (v1)."""
        if stamp is None or stamp.expires_at_ms is None:
            return None
        return stamp.expires_at_ms - int(self._wall() * 1000)

    async def put(
        self, namespace: str, key: str, value: bytes, content_type: str, ttl_ms: int
    ) -> bool:
        """True when the value was stored in at least one tier."""
        written = await self.write(namespace, key, value, content_type, ttl_ms)
        return written != Write.NOT_STORED

    async def write(
        self, namespace: str, key: str, value: bytes, content_type: str, ttl_ms: int,
        tags: list[str] | None = None,
    ) -> str:
        """`put`, telling where the value landed (a Write value). An
        untagged write does no tag work: one test, and the SET alone."""
        upkeep = await self.tag_upkeep(namespace, tags) if tags else None
        try:
            self._changed(f"{namespace}:{key}")
            stamp = new_stamp(self._wall(), ttl_ms, upkeep.tagged() if upkeep else ())
            # Memory first: Redis's expiry is then set later than memory's, so
            # the memory copy can never outlive the Redis one.
            if self.memory.put(namespace, key, value, content_type, ttl_ms, stamp=stamp):
                self.stats.sets += 1
                if self.redis is None:
                    return Write.MEMORY_FALLBACK
                stored = await self._put_redis(namespace, key, value, content_type, ttl_ms, stamp, upkeep)
                self._note(namespace, key, PUT, stored)
                await self.persisted()
                return Write.STORED if stored else Write.MEMORY_FALLBACK
            # Too large for memory: Redis alone may hold it.
            if self.redis is None or not await self._put_redis(
                namespace, key, value, content_type, ttl_ms, stamp, upkeep
            ):
                return Write.NOT_STORED
            self.stats.sets += 1
            self.memory.delete(namespace, key)  # the older copy
            self._note(namespace, key, PUT, True)
            await self.persisted()
            return Write.STORED
        finally:
            if upkeep is not None:  # the ENSUREs' replies, if the batch did not hand them
                self.tags_written(upkeep, None)

    def _put_redis(
        self, namespace: str, key: str, value: bytes, content_type: str, ttl_ms: int,
        stamp: Stamp, upkeep: Upkeep | None,
    ) -> Awaitable[bool]:
        """The Redis part of a write, to await: the SET alone (untagged, or
        no ENSURE due: no coroutine more than before tags), or with the
        upkeep's ENSUREs ahead of it."""
        assert self.redis is not None
        if upkeep is None or not upkeep.commands:
            return self.redis.put(namespace, key, value, content_type, ttl_ms, stamp)
        command = self.redis.set_command(namespace, key, value, content_type, ttl_ms, stamp)
        return put_upkept(self.tags, self.redis, upkeep, command)

    async def delete(self, namespace: str, key: str) -> bool:
        """False when Redis could not remove it (memory did)."""
        self.stats.deletes += 1
        self._changed(f"{namespace}:{key}")
        self.memory.delete(namespace, key)
        if self.redis is None:
            return True
        deleted = await self.redis.delete(namespace, key)
        self._note(namespace, key, DELETE, deleted)
        await self.persisted()
        return deleted

    def remember(
        self, namespace: str, key: str, value: bytes, content_type: str, ttl_ms: int,
        stamp: Stamp,
    ) -> None:
        """A value Redis has just stored by other means (a lease's script):
        memory follows, as for a `write` that reached Redis."""
        self._changed(f"{namespace}:{key}")
        self.stats.sets += 1
        if not self.memory.put(namespace, key, value, content_type, ttl_ms, stamp=stamp):
            self.memory.delete(namespace, key)
        self._note(namespace, key, PUT, True)

    def stamped(
        self, value: bytes, content_type: str, ttl_ms: int, tagged: Tagged = ()
    ) -> tuple[bytes, Stamp]:
        """The bytes Redis stores for a new value (service.cache.codec), and
        their stamp (for `remember`); `tagged` as `tag_seen` gives it."""
        stamp = new_stamp(self._wall(), ttl_ms, tagged)
        return codec.encode(value, content_type, stamp), stamp

    def _changed(self, name: str | None) -> None:
        if name is None:
            self._reads.changed_all()
        else:
            self._reads.changed(name)
        if self.on_change is not None:
            self.on_change(name)

    def _note(self, namespace: str, key: str, operation: str, reached_redis: bool) -> None:
        """Outbox bookkeeping: what missed Redis is recorded; a later
        operation that reached it settles the key, and is held until a
        replica confirms it (service.cache.unconfirmed)."""
        outbox = self.outbox
        if outbox is None:
            return
        held = self.unconfirmed
        if not reached_redis:
            outbox.record(namespace, key, operation)
            if held is not None:
                held.drop(namespace, key)
            return
        if len(outbox):
            outbox.settle(namespace, key)
        if held is not None and held.required:
            held.hold(namespace, key, operation)

    async def persisted(self) -> None:
        """Returns once the outbox's records so far survive the process
        (CACHE_STATE_DIR); a PUT or DELETE is answered after it."""
        if self.outbox is not None:
            await self.outbox.persisted()

    def invalidated(self, redis_keys: list[bytes] | None) -> None:
        """Redis says these keys changed (None: the database was flushed)."""
        self.stats.invalidations_received += 1 if redis_keys is None else len(redis_keys)
        if redis_keys is None or self.redis is None:
            self.tags.forget(self.outbox.tags if self.outbox is not None else frozenset())
            self.stats.invalidated += self._forget_all()
            return
        for redis_key in redis_keys:
            name = self.redis.memory_name(redis_key)
            if name is not None and name.startswith(TAG_HEAD):
                self.tags.heard(name[len(TAG_HEAD) :])
            elif name is not None:
                self._changed(name)
                self.stats.invalidated += self.memory.delete_by_name(name)

    async def reconnected(
        self, send: Send, first_connect: bool, *,
        owns: Callable[[str], bool] | None = None, others_ready: bool = True,
    ) -> ReplayReport | None:
        """The link is about to be ready. After an outage the outbox is
        applied (CACHE_OUTAGE_REPLAY) and memory is forgotten, since what it
        holds may have changed in Redis unseen. At the very first connect,
        memory holds only this instance's own writes of the last moments (a
        lazy link connects on first use): they are written to Redis and kept,
        rather than lost from a service that just started.

        A cluster's master reconnects alone (`owns` tells its keys): only
        its keys are replayed and forgotten."""
        replay = None
        if self.outbox is not None and self.redis is not None:
            # Unconfirmed writes and invalidations may be missing from this
            # master (a failover): they are replayed as outage ones are.
            unconfirmed = self.unconfirmed
            held = unconfirmed.adopt(self.outbox, owns) if unconfirmed is not None else 0
            # What the replay changes on the new master is unconfirmed too.
            holding = unconfirmed if unconfirmed is not None and unconfirmed.required else None
            await replay_tags(self, send, owns,
                              holding.hold_tag if holding is not None else None)
            mode = "write" if first_connect else self._outage_replay
            replay = await self.outbox.replay(
                send, self.redis, self.memory, mode, owns=owns, others_ready=others_ready,
                applied=holding.hold_name if holding is not None else None,
            )
            if replay is not None and holding is not None:
                for namespace in replay.swept_namespaces:
                    holding.hold_namespace(namespace)
            if replay is not None and held:
                replay = dataclasses.replace(replay, unconfirmed=held)
        if not first_connect:
            self.stats.forgotten_at_reconnect += self._forget(owns)
        self.tags.forget(self.outbox.tags if self.outbox is not None else frozenset())
        return replay

    def _forget(self, owns: Callable[[str], bool] | None) -> int:
        """Forget the entries whose Redis key `owns` accepts (all without it)."""
        if owns is None or self.redis is None:
            return self._forget_all()
        self._reads.changed_all()
        key_of = self.redis.key_of
        names = [name for name in self.memory.names() if owns(key_of(name))]
        for name in names:
            self.memory.delete_by_name(name)
        return len(names)

    def _forget_all(self) -> int:
        """Empty the memory tier (and refuse fills in flight); how many went."""
        forgotten = len(self.memory)
        self._changed(None)
        self.memory.clear()
        return forgotten
