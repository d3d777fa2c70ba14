"""Writes the master acknowledged that no replica has confirmed yet.

    PUT / DELETE reached Redis (the master answered)
        ─► held here: memory name → (operation, sequence, when)   [one append]
    the confirmer (service.link.confirmer), on its own connection:
        mark = sequence now ─► SET heartbeat + WAIT 1 (or replica offsets)
        ─► a replica has the heartbeat ─► every write held up to `mark` goes
    reconnect, before `ready` (same master or a new one)
        ─► what is still held becomes outage writes (the outbox): applied by
           the CACHE_OUTAGE_REPLAY rules, deleted by default

Why: a master that dies before its replica has a write takes the write
with it, and the promoted replica still serves the value from before, or a
value that was deleted. Replaying what is unconfirmed at every reconnect
turns such a write into a miss, never into an older value.

Only writes whose reply came before the heartbeat was sent are confirmed
by it: the sequence is taken after the reply, `mark` before the heartbeat,
and Redis replicates in the order it executed, whichever connection wrote.

Tag invalidations (service.cache.tags) are held the same way, under the
name `~tag:{namespace}:{tag}` (whose Redis key is the tag's record, so in a
cluster the record's master confirms it); at a reconnect what is still held
is applied again (INVALIDATE, before `ready`, as an outage invalidation
is): a failover can invalidate more (misses), never bring back what an
acknowledged invalidation covered.

Bounded like the outbox (CACHE_OUTBOX_MAX_KEYS): past it, the namespaces
count instead of the keys, and each is swept (every key deleted) at a
reconnect that comes before a confirmation covering them; for held
invalidations the unit is `~tag:{namespace}`, every tag record of the
namespace (deleted: a missing record fails every value carrying its tag).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from service.cache.outbox import Outbox
from service.cache.redis_tier import TAG_HEAD

log = logging.getLogger("roleready.cache")

Owns = Callable[[str], bool]  # a Redis key is one of this master's


class Unconfirmed:
    def __init__(
        self, max_keys: int, now: Callable[[], float], key_of: Callable[[str], str],
        *, required: bool,
    ) -> None:
        self.max_keys = max_keys
        # Read on every write that reached Redis: False settles it on reply
        # (REDIS_REPLICA_CONFIRM=off, or a single master without replicas).
        self.required = required
        self._now = now
        self._key_of = key_of  # memory name -> Redis key (the cluster's `owns`)
        # memory name -> (operation, sequence, monotonic time); insertion
        # order is sequence order (a re-held key moves to the end).
        self._held: dict[str, tuple[str, int, float]] = {}
        # After an overflow: namespace -> (latest sequence, first time).
        self._sweep: dict[str, tuple[int, float]] = {}
        self._seq = 0
        self._pending = asyncio.Event()
        self.overflows = 0
        self.confirmed_total = 0

    def __len__(self) -> int:
        return len(self._held) + len(self._sweep)

    def hold(self, namespace: str, key: str, operation: str) -> None:
        """A write's reply came: held until a replica confirms it."""
        self.hold_name(f"{namespace}:{key}", operation)

    def hold_tag(self, namespace: str, tag: str) -> None:
        """An invalidation's reply came: held until a replica confirms it."""
        self.hold_name(f"{TAG_HEAD}{namespace}:{tag}", TAG)

    def hold_name(self, name: str, operation: str) -> None:
        """`hold` of the memory name `namespace:key` (`~tag:namespace:tag`)."""
        self._seq += 1
        if self._sweep:
            self._mark_namespace(_unit(name))
        else:
            held = self._held
            held.pop(name, None)
            held[name] = (operation, self._seq, self._now())
            if len(held) > self.max_keys:
                self._overflow()
        if not self._pending.is_set():
            self._pending.set()

    def hold_namespace(self, namespace: str) -> None:
        """Every key of `namespace` was removed (a purge): held as a sweep."""
        self._seq += 1
        self._mark_namespace(namespace)
        if not self._pending.is_set():
            self._pending.set()

    def drop(self, namespace: str, key: str) -> None:
        """A later write missed Redis: the outbox holds the key now."""
        if self._held:
            self._held.pop(f"{namespace}:{key}", None)

    def mark(self) -> int:
        """The sequence of the last write whose reply has come."""
        return self._seq

    async def wait_pending(self, timeout_s: float) -> bool:
        """Until something is held (True) or `timeout_s` passed."""
        if not self._pending.is_set():
            try:
                async with asyncio.timeout(timeout_s):
                    await self._pending.wait()
            except TimeoutError:
                return False
        return True

    def confirmed(self, mark: int, owns: Owns | None = None) -> int:
        """A replica has every write up to `mark` (of `owns`' keys): they go.
        The oldest come first, so the walk stops at the first later one."""
        held = self._held
        names: list[str] = []
        for name, (_, seq, _) in held.items():
            if seq > mark:
                break
            if owns is None or owns(self._key_of(name)):
                names.append(name)
        for name in names:
            del held[name]
        self.confirmed_total += len(names)
        self._settle_pending()
        return len(names)

    def swept_through(self, mark: int) -> None:
        """Every master has confirmed up to `mark`: overflowed namespaces
        written no later than that are safe."""
        for namespace in [n for n, (seq, _) in self._sweep.items() if seq <= mark]:
            del self._sweep[namespace]
        self._settle_pending()

    def settle_all(self) -> None:
        """Nothing can be lost to a failover (no replica to fail over to)."""
        self.confirmed_total += len(self._held)
        self._held.clear()
        self._sweep.clear()
        self._settle_pending()

    def adopt(self, outbox: Outbox, owns: Owns | None = None) -> int:
        """At a reconnect: what is held (of `owns`' keys) becomes outage
        writes, replayed before `ready`; how many keys and namespaces."""
        names = [name for name in self._held
                 if owns is None or owns(self._key_of(name))]
        for name in names:
            operation = self._held.pop(name)[0]
            if operation == TAG:
                outbox.record_tag(*name[len(TAG_HEAD) :].split(":", 1))
                continue
            namespace, _, key = name.partition(":")
            outbox.record(namespace, key, operation)
        swept = list(self._sweep)
        for namespace in swept:
            outbox.purge(namespace)
        self._sweep.clear()
        self._settle_pending()
        return len(names) + len(swept)

    def oldest_age_s(self) -> float | None:
        times = [t for _, t in self._sweep.values()]
        if self._held:
            times.append(next(iter(self._held.values()))[2])
        return self._now() - min(times) if times else None

    def _mark_namespace(self, namespace: str) -> None:
        first = self._sweep.get(namespace, (0, self._now()))[1]
        self._sweep[namespace] = (self._seq, first)

    def _overflow(self) -> None:
        oldest = next(iter(self._held.values()))[2]
        for namespace in {_unit(name) for name in self._held}:
            self._sweep[namespace] = (self._seq, oldest)
        self._held.clear()
        self.overflows += 1
        log.warning(
            "unconfirmed writes overflowed (CACHE_OUTBOX_MAX_KEYS=%d): every key of "
            "namespaces %s is deleted from Redis at a reconnect before a replica "
            "confirms them", self.max_keys, sorted(self._sweep),
        )

    def _settle_pending(self) -> None:
        if not self._held and not self._sweep:
            self._pending.clear()


TAG = "tag"  # the operation of a held invalidation


def _unit(name: str) -> str:
    """What an overflow holds in place of `name`: its namespace, or for an
    invalidation `~tag:{namespace}`, whose sweep (SCAN MATCH under it)
    deletes every tag record of the namespace."""
    if name.startswith(TAG_HEAD):
        return TAG_HEAD + name[len(TAG_HEAD) :].partition(":")[0]
    return name.partition(":")[0]
