"""Redis reads after a memory miss: one per key in flight, shared by every
concurrent miss of that key (single-flight), and kept only when fresh.

    miss of k ─► a read of k in flight? ──yes──► join it ─► its answer, not kept again
                   │no                                    (coalesced_reads + 1)
                   ▼
                lead: GET + PTTL ─► answer every caller that joined; keep it in
                                    memory only if k did not change meanwhile (FillGuard)
    change of k (a PUT or DELETE here, an invalidation) ─► the read in flight
        stops being joinable: a miss after the change sends its own read
    change of everything (a flush, a reconnect) ─► no read in flight is joinable
    the leader cancelled, or its read raised ─► the callers that joined it read
        again (the first of them to run leads)

A caller that joined before a change gets the read in flight: that read and
the caller's GET both began before the change, so the change is concurrent
with the GET and the coherence promise allows either value (the leader does
not keep it in memory). A caller arriving after a change never gets a read
begun before it. Joined callers wait behind `asyncio.shield`, so one of them
being cancelled does not cancel the read the others wait for.

Without coalescing, N concurrent misses of a popular key send N identical
GETs; the issue-14 stampede test asks for one.
"""

from __future__ import annotations

import asyncio

from service.cache.budget import AnswerBudget
from service.cache.fills import FillGuard
from service.cache.redis_tier import RedisTier, Reply, StoredValue
from service.cache.stats import CacheStats


class _Abandoned:
    """A flight's outcome when its leader never finished the read."""


ABANDONED = _Abandoned()
Outcome = StoredValue | None | _Abandoned


class _Flight:
    """One leader's read. Its future is made by the first caller that joins:
    most reads are never joined, and a Future costs more than this object
    (it is on every Redis hit, as is the leader's code being inline below)."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: asyncio.Future[Outcome] | None = None


class SharedReads:
    def __init__(self, stats: CacheStats) -> None:
        self._stats = stats
        self._fills = FillGuard()
        # The joinable read of each memory name (`namespace:key`) in flight.
        self._flights: dict[str, _Flight] = {}

    async def read(
        self, redis: RedisTier, namespace: str, key: str, *, fill: bool = True
    ) -> tuple[StoredValue | None, bool]:
        """Redis's value (None: a miss, or Redis unavailable), and whether
        the caller may keep it in memory: only a leader whose read no change
        overtook may; never without `fill` (no memory tier to fill: the
        value's PTTL is not read either)."""
        name = f"{namespace}:{key}"
        flights = self._flights
        while (joined := flights.get(name)) is not None:
            if joined.future is None:
                joined.future = asyncio.get_running_loop().create_future()
            outcome = await asyncio.shield(joined.future)
            if not isinstance(outcome, _Abandoned):
                self._stats.coalesced_reads += 1
                if outcome is not None:
                    self._stats.coalesced_hits += 1
                return outcome, False
        flight = flights[name] = _Flight()
        began = self._fills.begin(name) if fill else 0  # no fill: no guard
        outcome = ABANDONED
        try:
            stored = outcome = await redis.get(namespace, key, ttl=fill)
        finally:
            fresh = fill and self._fills.end(name, began)
            if flights.get(name) is flight:
                del flights[name]
            if flight.future is not None:
                flight.future.set_result(outcome)
        return stored, fresh

    async def read_many(
        self, redis: RedisTier, namespace: str, keys: list[str], budget: AnswerBudget,
        *, fill: bool = True,
    ) -> tuple[dict[str, Reply], set[str]] | None:
        """A batch's Redis reads (`_mget`, keys without repeats) within
        `budget` (RedisTier.get_many: each key read, as stored, and its
        PTTL; a key absent was not read), and the keys read whose value may
        not be kept (FillGuard, as for `read`; all of them without `fill`,
        and then no guard is kept either). None when Redis is unavailable.
        A batch neither joins single reads in flight nor is joinable: it
        never waits behind another caller's read."""
        if not fill:
            replies = await redis.get_many(namespace, keys, budget)
            return None if replies is None else (replies, set(replies))
        head = f"{namespace}:"
        names = [head + key for key in keys]
        fills = self._fills
        began = fills.begin_many(names)
        replies = None
        try:
            replies = await redis.get_many(namespace, keys, budget)
        finally:
            overtaken = fills.end_many(names, began)
        if replies is None:
            return None
        return replies, {name[len(head):] for name in overtaken}

    def changed(self, name: str) -> None:
        """`name` changed: a read in flight is neither kept nor joined."""
        self._fills.changed(name)
        self._flights.pop(name, None)

    def changed_all(self) -> None:
        self._fills.changed_all()
        self._flights.clear()

    def in_flight(self) -> int:
        """Joinable reads in flight (for tests and curiosity)."""
        return len(self._flights)
