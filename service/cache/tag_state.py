"""What one instance knows of its namespaces' tag records (the design:
service/cache/tags.py): namespace -> tag -> the record's value R (MISSING:
read as absent), read from Redis and kept until the record's tracking
message makes it unknown, or a reconnect forgets them all; and until when
each record is known to live (what a write keeps alive: tag_writes.py).
A read of a record that a change overtook is not kept (FillGuard, as for
the memory tier's fills)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from service.cache.codec import Tagged
from service.cache.fills import FillGuard
from service.cache.redis_tier import RedisTier

# KEYS[1]: the record; ARGV[1]: its PX; ARGV[2] (optional): a value the
# record must pass (what the caller knew of it, should it be gone).
# Answers the record's new value.
INVALIDATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local old = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local new = math.max(now, old + 1, tonumber(ARGV[2] or '0') or 0)
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', ARGV[1])
return new
"""
# What this instance knows of a record it invalidated without Redis: above
# any value a record can hold (µs since the epoch), below 2^63.
PENDING = 2**63 - 1
# What it knows of a record Redis answered as absent (evicted, expired, or
# never written): every value carrying the tag fails the check, as after an
# invalidation (tags.py: a tagged write always creates its record).
MISSING = 2**63 - 2
# A record outlives every value written with it by at least this much past
# the namespace's TTL and stale window (a value's SET may land this long
# after its records were seen to: a round trip, retries).
MARGIN_MS = 60_000
# Records known at most (a map past it is emptied: what it knew is read again).
MAX_KNOWN = 100_000
_NONE: dict[str, int] = {}
_NO_TIMES: dict[str, float] = {}


class TagState:
    """What this instance knows of its namespaces' tag records."""

    def __init__(
        self, namespace_ttls_ms: Mapping[str, int], stale_ms: Mapping[str, int],
        memory_only: bool = False, now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttls_ms = namespace_ttls_ms
        self._stale_ms = stale_ms
        self._now = now
        # A record not known here: unknown (None: read it from Redis), or,
        # without Redis, where this instance is the only one, this floor:
        # 0, or the largest value it had to forget (the bound below).
        self._floor: int | None = 0 if memory_only else None
        # namespace -> tag -> the record's value R (0: no record).
        self._known: dict[str, dict[str, int]] = {}
        self._size = 0
        # What was known of records before they became unknown (a message,
        # a reconnect): a record only grows, so a value read later is at
        # least this. A record evicted by Redis (maxmemory) reads as missing:
        # with this floor the values it invalidated stay invalidated here.
        self._last: dict[str, int] = {}
        # `namespace:tag` -> the value a record actually holds, where what is
        # known here is the floor above it: a write stores that value, never
        # the floor (an invalidation by an instance that never knew the
        # floor may set the record below it).
        self._below: dict[str, int] = {}
        # namespace -> tag -> until when (self._now, seconds) the record is
        # known to live at least H more: a write made before then keeps it
        # alive without a command. Gone with the record's value (a message,
        # a reconnect).
        self._until: dict[str, dict[str, float]] = {}
        self._reads = FillGuard()
        self.invalidations = 0
        self.found_invalidated = 0

    def __len__(self) -> int:
        return self._size

    def valid(self, namespace: str, tags: Tagged) -> bool:
        """True when no tag of an entry was invalidated since its writer
        saw it, as far as this instance knows (an unknown record: False)."""
        known = self._known.get(namespace, _NONE)
        floor = self._floor
        for tag, seen in tags:
            current = known.get(tag, floor)
            if current is None or seen < current:
                return False
        return True

    def dropped(self, namespace: str, tags: Tagged) -> None:
        """An entry failed `valid`: counted when its records are all known
        (it was invalidated, not merely unknown here)."""
        known = self._known.get(namespace, {})
        if all(tag in known for tag, _ in tags):
            self.found_invalidated += 1

    def known(self, namespace: str, tag: str) -> int:
        """The record's value known here (0 when none is, or the floor)."""
        return self._known.get(namespace, _NONE).get(tag, self._floor or 0)

    def unknown(self, namespace: str, tags: Sequence[str]) -> list[str]:
        known = self._known.get(namespace, {})
        return [tag for tag in tags if tag not in known]

    def seen(self, namespace: str, tags: Sequence[str]) -> Tagged:
        """What a write made now stores: each tag with the R known here (0
        when unknown, pending or missing: the entry then fails every check)."""
        known = self._known.get(namespace, _NONE)
        floor = self._floor or 0
        tagged = tuple((tag, r if (r := known.get(tag, floor)) < MISSING else 0) for tag in tags)
        if self._below:  # rare: a record found below what was known of it
            below = self._below
            tagged = tuple((tag, min(r, below.get(f"{namespace}:{tag}", r))) for tag, r in tagged)
        return tagged

    async def learn(self, redis: RedisTier, namespace: str, tags: Sequence[str]) -> bool:
        """Read the records of `tags` not known here; False when Redis is
        unavailable. A value whose record changed meanwhile is not kept."""
        missing = self.unknown(namespace, tags)
        if not missing:
            return True
        names = [f"{namespace}:{tag}" for tag in missing]
        began = [self._reads.begin(name) for name in names]
        replies = None
        try:
            replies = await redis.replies([["GET", redis.tag_key(namespace, tag)] for tag in missing])
        finally:
            fresh = [self._reads.end(name, epoch) for name, epoch in zip(names, began, strict=True)]
        if replies is None:
            return False
        for tag, reply, keep in zip(missing, replies, fresh, strict=True):
            if keep:
                self._know(namespace, tag, self._floored(namespace, tag, reply))
        return True

    def _floored(self, namespace: str, tag: str, reply: bytes | int | None) -> int:
        """A record's value as read (MISSING when absent), never below what
        was known of it before (a record re-created by a master whose clock
        ran back)."""
        if reply is None:
            return MISSING
        name, value = f"{namespace}:{tag}", int(reply)
        last = self._last.get(name, 0)
        if last <= value:
            return value
        self._below[name] = value
        return last

    def lifetimes_ms(self, namespace: str) -> tuple[int, int]:
        """(H, 2H): a record must outlive a write made now by H, the
        namespace's TTL + stale window + MARGIN_MS; an ensure that finds it
        shorter sets 2H, so each record is extended about once per H."""
        least = self._ttls_ms[namespace] + self._stale_ms.get(namespace, 0) + MARGIN_MS
        return least, 2 * least

    def floor(self, namespace: str, tag: str) -> int:
        """A value a record re-created now must exceed: above all this
        instance knew of it (0: nothing)."""
        known = self._known.get(namespace, _NONE).get(tag, 0)
        known = known if known < MISSING else 0
        last = max(known, self._last.get(f"{namespace}:{tag}", 0))
        return last + 1 if last else 0

    def commands(self, redis: RedisTier, namespace: str, tags: Sequence[str]) -> list[list[str | int]]:
        """The INVALIDATE scripts of `tags` (one each: records may live on
        different cluster slots)."""
        px = self.lifetimes_ms(namespace)[1]
        return [["EVAL", INVALIDATE, 1, redis.tag_key(namespace, tag), px,
                 self.floor(namespace, tag)] for tag in tags]

    def plan(self, namespace: str, tags: Sequence[str]) -> tuple[dict[str, int], list[str], list[str]]:
        """What a write made now does for `tags` (tag_writes.py): what each
        value stores (as `seen`), the records it must first create or read
        (unknown, or known missing), and those known whose life is not
        known to last H more (their ENSURE travels with the write). Pending
        ones: the write stores 0 and fails every check anyway. One pass:
        it is on every tagged write's path."""
        known = self._known.get(namespace, _NONE)
        until = self._until.get(namespace, _NO_TIMES)
        now = self._now()
        seen: dict[str, int] = {}
        first: list[str] = []
        later: list[str] = []
        for tag in tags:
            r = known.get(tag)
            if r is None or r >= MISSING:
                seen[tag] = 0
                if r != PENDING:
                    first.append(tag)
            else:
                seen[tag] = r
                if until.get(tag, 0.0) <= now:
                    later.append(tag)
        if self._below:  # rare: a record found below what was known of it
            for tag, r in self.seen(namespace, tags):
                seen[tag] = r
        return seen, first, later

    def _lives(self, namespace: str, tag: str, from_s: float, pttl_ms: int) -> None:
        """The record lives `pttl_ms` from `from_s` (-1: no expiry): until
        when a write keeps it alive without a command."""
        if pttl_ms < 0:
            deadline = float("inf")
        else:
            deadline = from_s + (pttl_ms - self.lifetimes_ms(namespace)[0]) / 1000
        self._until.setdefault(namespace, {})[tag] = deadline

    def begin(self, namespace: str, tags: Sequence[str]) -> tuple[float, list[int]]:
        """Ensures of `tags` are sent now: the time, and their read epochs."""
        return self._now(), [self._reads.begin(f"{namespace}:{tag}") for tag in tags]

    def ensured(
        self, namespace: str, tags: Sequence[str], began: tuple[float, list[int]],
        replies: Sequence[object] | None,
    ) -> dict[str, int]:
        """Their replies landed ([R, PTTL] each; None: refused, or the batch
        failed): each R answered, kept here unless a change overtook it."""
        sent_at, epochs = began
        values: dict[str, int] = {}
        for i, (tag, epoch) in enumerate(zip(tags, epochs, strict=True)):
            name = f"{namespace}:{tag}"
            fresh = self._reads.end(name, epoch)
            reply = replies[i] if replies is not None else None
            if not isinstance(reply, list) or len(reply) != 2:
                continue
            values[tag] = int(reply[0])
            if fresh:
                self._know(namespace, tag, self._floored(namespace, tag, reply[0]))
                self._lives(namespace, tag, sent_at, int(reply[1]))
        return values

    def invalidated(self, namespace: str, tags: Sequence[str], values: Sequence[int]) -> None:
        """This instance invalidated `tags` (their new values; PENDING while
        Redis is unavailable)."""
        self.invalidations += len(tags)
        for tag, value in zip(tags, values, strict=True):
            self._reads.changed(f"{namespace}:{tag}")
            self._know(namespace, tag, value)
            if value != PENDING:  # INVALIDATE set its expiry: 2H
                self._lives(namespace, tag, self._now(), self.lifetimes_ms(namespace)[1])

    def heard(self, name: str) -> None:
        """Redis says the record `namespace:tag` changed: its value is unknown."""
        namespace, _, tag = name.partition(":")
        self._reads.changed(name)
        self._until.get(namespace, {}).pop(tag, None)
        self._below.pop(name, None)
        known = self._known.get(namespace)
        if known is not None and (value := known.pop(tag, None)) is not None:
            self._size -= 1
            self._remember(name, value)

    def forget(self, keep: set[str] | frozenset[str] = frozenset()) -> None:
        """Forget every value known but the pending ones named in `keep`
        (`namespace:tag`, invalidations still in the outbox)."""
        self._reads.changed_all()
        for namespace, known in self._known.items():
            for tag, value in known.items():
                self._remember(f"{namespace}:{tag}", value)
        self._known = {}
        self._until = {}
        self._below = {}
        self._size = 0
        for name in keep:
            namespace, _, tag = name.partition(":")
            self._know(namespace, tag, PENDING)

    def _remember(self, name: str, value: int) -> None:
        if value < MISSING and value > self._last.get(name, 0):
            if len(self._last) >= MAX_KNOWN:
                self._last.clear()  # only the eviction guard is lost
            self._last[name] = value

    def _know(self, namespace: str, tag: str, value: int) -> None:
        if self._size >= MAX_KNOWN:
            if self._floor is not None:  # without Redis, what is forgotten stays invalidated
                self._floor = max([self._floor, *(r for known in self._known.values()
                                                  for r in known.values() if r != PENDING)])
            self.forget({f"{ns}:{t}" for ns, known in self._known.items()
                         for t, r in known.items() if r == PENDING})
        known = self._known.setdefault(namespace, {})
        if tag not in known:
            self._size += 1
        known[tag] = value
