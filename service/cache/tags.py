"""Tag invalidation: drop every entry of a namespace carrying a tag, with a
constant number of Redis commands, checked lazily on read.

    record     {prefix}:~tag:{namespace}:{tag}  a string: an integer R, set by
               INVALIDATE to max(Redis TIME in µs, R + 1); created by the
               first write carrying the tag, kept alive by later ones
               (tag_writes.py), expiring 2H after (H: the namespace's TTL +
               stale window + a margin); missing means "maybe invalidated":
               R = MISSING, above every value (evicted, expired, or never
               written, and then nothing alive carries it)
    write      ENSURE per tag (tag_writes.py): the record exists and outlives
               the value; the entry stores each tag with `seen`, the R its
               writer knew (created or read first: one round trip, once)
    read       the entry is served only if seen >= R for each of its tags, R
               as this instance knows it; an unknown R is read from Redis
    invalidate one INVALIDATE script per tag (no SCAN, whatever carries it);
               the R it answers is known here at once (Redis 7.0 sends the
               change to this instance too, despite NOLOOP, for a script's
               writes: it is then read again once)
    tracking   a record is a key under the prefix: its change (an extension
               too, an eviction) reaches every instance as an invalidation
               message, which makes R unknown there (read again on the next
               read of an entry carrying it)
    reconnect  everything known of records is forgotten, as the memory tier
               is (messages may have been lost)
    found      a Redis value found invalidated is removed there (DROP_IF_SAME:
               only if still those bytes), so that a lease can be taken on it
    no Redis   this instance is the only one: a record it never invalidated is 0

Why an entry written before an acknowledged invalidation is never served
after it. A record's values only grow, across its whole history: while it
exists INVALIDATE sets it above its old value, atomically (a script), and
one created again after it vanished starts at Redis's TIME, above every
value it held (each was at most the TIME of its own moment), and above
what its creator knew of it. R is only ever compared with values read from
the same record, never with any instance's clock, so instance clocks play
no part. A PUT acknowledged before the invalidation I began stored
seen <= R_before < R_I. Once I is acknowledged the record holds R >= R_I,
or is missing (which fails every entry); an instance knows a value read
after I, or nothing: a read that I overtook is not kept (the same guard as
the memory tier's fills), and a value known before I is made unknown by I's
tracking message (the coherence guarantee's delay, as for any key). So
seen < R: not served. Writes concurrent with I may go either way; a write
after I whose writer still knows an older R is dropped too (a miss, which
is always allowed).

Why values are not lost to this: a tagged write ensures its records, so a
record outlives every value written with it (by the margin), and a missing
record means it was evicted (its values are misses: the price of never
serving what an invalidation covered), or every value carrying it expired.

Cost: an untagged read or write does no tag work at all (one attribute
test on a memory hit); a tagged memory hit is a dict lookup per tag; a
tagged write adds an ENSURE to its own batch about once per record per H
(tag_writes.py). Tag records live on their own slots in a cluster: they are
read with one GET each, never in a script with the value's key.

During an outage an invalidation is held in the outbox and marked PENDING
here: every entry carrying the tag fails the check at once, on this instance,
and one written meanwhile stores seen = 0 (so it too fails it, and fails it
in Redis if the outbox writes it back). At reconnect the outbox applies the
invalidation before `ready`.

An invalidation the master acknowledged is held until a replica confirms
it, as a write is (service.cache.unconfirmed): a master that fails over
before its replica has it takes it along, and the promoted replica's
record is still below the values it covered. What is held is applied again
at every reconnect, before `ready`, like an outage invalidation.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from service.cache import codec
from service.cache.redis_tier import RedisTier, StoredValue
from service.cache.tag_state import INVALIDATE, MISSING, PENDING, TagState
from service.link.session import OptionalCommand, Send

if TYPE_CHECKING:
    from service.cache.two_tier import TwoTierCache

log = logging.getLogger("roleready.cache")

# KEYS[1]: a value; ARGV[1]: the SHA1 of the bytes found invalidated. Removes
# the value only if it is still those bytes (a newer value stays).
DROP_IF_SAME = """
local value = redis.call('GET', KEYS[1])
if value and redis.sha1hex(value) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


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
        await cache.persisted()  # in CACHE_STATE_DIR before the answer, as outage writes
        return Invalidation(now_us, False)
    values = [int(reply) for reply in replies]
    state.invalidated(namespace, tags, values)
    held = cache.unconfirmed
    if held is not None and held.required:  # as a write: until a replica has it
        for tag in tags:
            held.hold_tag(namespace, tag)
    return Invalidation(max(values), True)


async def replay(
    cache: TwoTierCache, send: Send, owns: Callable[[str], bool] | None = None,
    applied: Callable[[str, str], None] | None = None,
) -> int:
    """At reconnect, before `ready`: apply the outbox's tag invalidations
    (outage ones, and those no replica had confirmed: service.cache.unconfirmed;
    those whose record `owns` accepts, in a cluster); how many. Raises
    when Redis does (the attempt fails; they stay in the outbox).
    `applied(namespace, tag)` hears of each one Redis carried out: on the
    master just reached it awaits a replica's confirmation again."""
    outbox, redis = cache.outbox, cache.redis
    if outbox is None or redis is None or not outbox.tags:
        return 0
    names = [name for name in sorted(outbox.tags)
             if owns is None or owns(redis.tag_key(*name.split(":", 1)))]
    for name in names:
        namespace, _, tag = name.partition(":")
        # An error reply (OOM under `noeviction`, a user without +time, a
        # foreign value under the record's key) must not fail every
        # reconnect; nor may the invalidation be lost: the record is deleted
        # instead (DEL is allowed even when Redis is full). A missing record
        # fails every value carrying its tag: more misses, never a value
        # the invalidation covered.
        command = OptionalCommand(tuple(cache.tags.commands(redis, namespace, [tag])[0]))
        (reply,) = await send(cast(list[Sequence[Any]], [command]))
        if reply is None:
            delete = OptionalCommand(("DEL", redis.tag_key(namespace, tag)))
            (deleted,) = await send(cast(list[Sequence[Any]], [delete]))
            log.warning("tag invalidation %s refused by Redis at reconnect: its record %s",
                        name, "was deleted instead" if deleted is not None else
                        "could not be deleted either: dropped")
        outbox.tags.discard(name)
        if applied is not None:
            applied(namespace, tag)
    if names:
        log.info("%d tag invalidations applied before ready (made during an outage, "
                 "or not yet confirmed by a replica)", len(names))
    return len(names)


async def checked(
    cache: TwoTierCache, namespace: str, key: str, stored: StoredValue, keep: bool
) -> tuple[StoredValue | None, bool]:
    """A tagged value read from Redis, or None when one of its tags was
    invalidated since it was written (or its record cannot be read).
    A value whose records had to be read first is not kept in memory:
    its key may have changed during that read, unseen by FillGuard."""
    tags = stored.stamp.tags
    if cache.tags.valid(namespace, tags):
        return stored, keep
    redis = cache.redis
    assert redis is not None
    names = [tag for tag, _ in tags]
    learned = await cache.tags.learn(redis, namespace, names)
    if learned and cache.tags.valid(namespace, tags):
        return stored, False
    # Removed from Redis only when every record is known (none pending):
    # then it was invalidated, not merely unknown here (a missing record
    # counts: re-created, it starts above the value's `seen`).
    if learned and not cache.tags.unknown(namespace, names) and PENDING not in (
        cache.tags.known(namespace, tag) for tag in names
    ):
        await drop(redis, namespace, key, stored)
        cache._changed(f"{namespace}:{key}")  # NOLOOP: this instance hears nothing
    cache.tags.dropped(namespace, tags)
    return None, False


async def drop(redis: RedisTier, namespace: str, key: str, stored: StoredValue) -> None:
    """Remove from Redis a value found invalidated (unless it changed
    since): no later read pays for its check again, and a `?lease=1`
    miss can take a lease on the key (a lease is only issued for a key
    without a value). One command on the key's own slot."""
    raw = codec.encode(stored.value, stored.content_type, stored.stamp)
    digest = hashlib.sha1(raw, usedforsecurity=False).hexdigest()
    await redis.replies([["EVAL", DROP_IF_SAME, 1, redis.key(namespace, key), digest]])

__all__ = ["INVALIDATE", "MISSING", "PENDING", "TagState", "checked", "drop", "invalidate", "replay"]
