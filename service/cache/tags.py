"""Tag invalidation: drop every entry of a namespace carrying a tag, with a
constant number of Redis commands, checked lazily on read.

    record     {prefix}:~tag:{namespace}:{tag}  a string: an integer R, set by
               INVALIDATE to max(Redis TIME in µs, R + 1), PX = the namespace's
               TTL + stale window; missing means R = 0 (never invalidated, or
               long enough ago that no entry carrying it can be alive)
    write      the entry stores each tag with `seen`, the R its writer knew
               (a record not yet known is read first: one GET per tag, once)
    read       the entry is served only if seen >= R for each of its tags, R
               as this instance knows it; an unknown R is read from Redis
    invalidate one INVALIDATE script per tag (no SCAN, whatever carries it);
               the R it answers is known here at once (NOLOOP: no message)
    tracking   a record is a key under the prefix: its change reaches every
               instance as an invalidation message, which makes R unknown
               there (read again on the next read of an entry carrying it)
    reconnect  everything known of records is forgotten, as the memory tier
               is (messages may have been lost)

Why an entry written before an acknowledged invalidation is never served
after it. Each record only grows while it exists: INVALIDATE sets it above
its old value, atomically (a script). R is only ever compared with values
read from the same record, never with any instance's clock, so instance
clocks play no part; Redis's TIME only makes a record recreated after its
expiry start above every value it held before (the record lives TTL + stale
window after its last invalidation, so its master's clock would have to run
back by that much). A PUT acknowledged before the invalidation I began
stored seen <= R_before < R_I. Once I is acknowledged, an instance knows
R >= R_I or does not know R: the only values it holds were read from Redis,
and a read that I overtook is not kept (the same guard as the memory tier's
fills), while a value known before I is made unknown by I's tracking message
(the coherence guarantee's delay, as for any key). So seen < R: not served.
Writes concurrent with I may go either way; a write after I whose writer
still knows an older R is dropped too (a miss, which is always allowed).

Cost: an untagged read does no tag work at all (one attribute test on a
memory hit); a tagged memory hit is a dict lookup per tag. Tag records live
on their own slots in a cluster: they are read with one GET each, never in a
script with the value's key.

During an outage an invalidation is held in the outbox and marked PENDING
here: every entry carrying the tag fails the check at once, on this instance,
and one written meanwhile stores seen = 0 (so it too fails it, and fails it
in Redis if the outbox writes it back). At reconnect the outbox applies the
invalidation before `ready`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from service.cache import codec
from service.cache.codec import Tagged
from service.cache.fills import FillGuard
from service.cache.redis_tier import RedisTier, StoredValue
from service.link.session import Send

if TYPE_CHECKING:
    from service.cache.two_tier import TwoTierCache

# KEYS[1]: the record; ARGV[1]: its PX. Answers the record's new value.
INVALIDATE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local old = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local new = math.max(now, old + 1)
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', ARGV[1])
return new
"""
# KEYS[1]: a value; ARGV[1]: the SHA1 of the bytes found invalidated. Removes
# the value only if it is still those bytes (a newer value stays).
DROP_IF_SAME = """
local value = redis.call('GET', KEYS[1])
if value and redis.sha1hex(value) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
# What this instance knows of a record it invalidated without Redis: above
# any value a record can hold (µs since the epoch), below 2^63.
PENDING = 2**63 - 1
# Records known at most (a map past it is emptied: what it knew is read again).
MAX_KNOWN = 100_000


class Invalidation(NamedTuple):
    """What `invalidate` did."""

    # When, in µs since the epoch: Redis's clock (the records' new value),
    # or this instance's while Redis is unavailable or absent.
    at_us: int
    # False: held in the outbox until Redis is back (honoured here already).
    in_redis: bool


async def invalidate(cache: TwoTierCache, namespace: str, tags: Sequence[str]) -> Invalidation:
    """Invalidate `tags` in `namespace`: one INVALIDATE script per tag."""
    state, redis = cache.tags, cache.redis
    now_us = int(cache.wall() * 1_000_000)
    if redis is None:  # memory only: this instance's clock is the only one
        values = [max(now_us, state.known(namespace, tag) + 1) for tag in tags]
        state.invalidated(namespace, tags, values)
        return Invalidation(max(values), True)
    replies = await redis.replies(state.commands(redis, namespace, tags))
    if replies is None:
        if cache.outbox is not None:
            for tag in tags:
                cache.outbox.record_tag(namespace, tag)
        state.invalidated(namespace, tags, [PENDING] * len(tags))
        return Invalidation(now_us, False)
    values = [int(reply) for reply in replies]
    state.invalidated(namespace, tags, values)
    return Invalidation(max(values), True)


async def replay(
    cache: TwoTierCache, send: Send, owns: Callable[[str], bool] | None = None
) -> int:
    """At reconnect, before `ready`: apply the outbox's tag invalidations
    (those whose record `owns` accepts, in a cluster); how many. Raises
    when Redis does (the attempt fails; they stay in the outbox)."""
    outbox, redis = cache.outbox, cache.redis
    if outbox is None or redis is None or not outbox.tags:
        return 0
    names = [name for name in sorted(outbox.tags)
             if owns is None or owns(redis.tag_key(*name.split(":", 1)))]
    for name in names:
        namespace, _, tag = name.partition(":")
        await send(cache.tags.commands(redis, namespace, [tag]))
        outbox.tags.discard(name)
    return len(names)


async def drop(redis: RedisTier, namespace: str, key: str, stored: StoredValue) -> None:
    """Remove from Redis a value found invalidated (unless it changed
    since): no later read pays for its check again, and a `?lease=1`
    miss can take a lease on the key (a lease is only issued for a key
    without a value). One command on the key's own slot."""
    raw = codec.encode(stored.value, stored.content_type, stored.stamp)
    digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
    await redis.replies([["EVAL", DROP_IF_SAME, 1, redis.key(namespace, key), digest]])


class TagState:
    """What this instance knows of its namespaces' tag records."""

    def __init__(
        self, namespace_ttls_ms: Mapping[str, int], stale_ms: Mapping[str, int]
    ) -> None:
        self._ttls_ms = namespace_ttls_ms
        self._stale_ms = stale_ms
        # namespace -> tag -> the record's value R (0: no record).
        self._known: dict[str, dict[str, int]] = {}
        self._size = 0
        self._reads = FillGuard()
        self.invalidations = 0
        self.found_invalidated = 0

    def __len__(self) -> int:
        return self._size

    def valid(self, namespace: str, tags: Tagged) -> bool:
        """True when no tag of an entry was invalidated since its writer
        saw it, as far as this instance knows (an unknown record: False)."""
        known = self._known.get(namespace)
        if known is None:
            return False
        for tag, seen in tags:
            current = known.get(tag)
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
        """The record's value known here (0 when none is)."""
        return self._known.get(namespace, {}).get(tag, 0)

    def unknown(self, namespace: str, tags: Sequence[str]) -> list[str]:
        known = self._known.get(namespace, {})
        return [tag for tag in tags if tag not in known]

    def seen(self, namespace: str, tags: Sequence[str]) -> Tagged:
        """What a write made now stores: each tag with the R known here (0
        when unknown or pending: the entry then fails every check)."""
        known = self._known.get(namespace, {})
        return tuple((tag, r if (r := known.get(tag, 0)) != PENDING else 0) for tag in tags)

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
                self._know(namespace, tag, int(reply) if reply is not None else 0)
        return True

    def commands(self, redis: RedisTier, namespace: str, tags: Sequence[str]) -> list[list[object]]:
        """The INVALIDATE scripts of `tags` (one each: records may live on
        different cluster slots)."""
        px = self._ttls_ms[namespace] + self._stale_ms.get(namespace, 0)
        return [["EVAL", INVALIDATE, 1, redis.tag_key(namespace, tag), px] for tag in tags]

    def invalidated(self, namespace: str, tags: Sequence[str], values: Sequence[int]) -> None:
        """This instance invalidated `tags` (their new values; PENDING while
        Redis is unavailable)."""
        self.invalidations += len(tags)
        for tag, value in zip(tags, values, strict=True):
            self._reads.changed(f"{namespace}:{tag}")
            self._know(namespace, tag, value)

    def heard(self, name: str) -> None:
        """Redis says the record `namespace:tag` changed: its value is unknown."""
        namespace, _, tag = name.partition(":")
        self._reads.changed(name)
        known = self._known.get(namespace)
        if known is not None and known.pop(tag, None) is not None:
            self._size -= 1

    def forget(self, keep: set[str] | frozenset[str] = frozenset()) -> None:
        """Forget every value known but the pending ones named in `keep`
        (`namespace:tag`, invalidations still in the outbox)."""
        self._reads.changed_all()
        self._known = {}
        self._size = 0
        for name in keep:
            namespace, _, tag = name.partition(":")
            self._know(namespace, tag, PENDING)

    def _know(self, namespace: str, tag: str, value: int) -> None:
        if self._size >= MAX_KNOWN:
            self.forget({f"{ns}:{t}" for ns, known in self._known.items()
                         for t, r in known.items() if r == PENDING})
        known = self._known.setdefault(namespace, {})
        if tag not in known:
            self._size += 1
        known[tag] = value
