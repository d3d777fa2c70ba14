"""A batch's Redis part (`_mget`'s keys memory missed): read, decoded and
settled in one pass, as TwoTierCache settles a single GET's reply.

    keys ─► SharedReads.read_many: ONE script for all of them (RedisTier
            .get_many), the fill guard begun and ended for all at once
         ─► one loop over the replies, each settled as `_settle` settles a
            single read's:
              absent, undecodable, past its logical expiry ─► a miss
              the same bytes as this key's last batch read ─► that decoding
                 (service.cache.decodings), else codec.decode
              tagged ─► its tags checked (tags.checked), then as the others
              otherwise ─► a hit; kept in memory unless a change overtook
                 its read (FillGuard), for at most the namespace's TTL, its
                 logical expiry and what Redis keeps it for
         ─► the counters, added once for the batch

Why not `_settle` per key: it built three records per key (StoredValue,
Lookup, a tuple) and called four functions; a `_mget` of 100 Redis hits
spent most of its time there and in decoding (docs/performance.md, "_mget
per key"). The memory fill is kept: it is what makes the next read of
these keys a memory hit, and the tests of coherence hold batches to it.
With the memory tier holding nothing (CACHE_LRU_MAX_ITEMS=0) no fill is
tried and no fill guard kept.

Redis is read every time; what a key read again unchanged saves is its
decoding (service.cache.decodings) and, since its value is then the very
same bytes object, the answer's JSON fragment (service.http
.batch_fragments): most of what a batch of Redis hits costs where the
memory tier is off.
"""

from __future__ import annotations

from service.cache.budget import AnswerBudget
from service.cache.codec import Decoded
from service.cache.redis_tier import RedisTier, Reply, StoredValue
from service.cache.tags import checked as tag_checked
from service.cache.two_tier import TwoTierCache

# A Redis hit in a batch's answer: its value and content type. A plain
# tuple: a batch builds hundreds, and a NamedTuple cost twice as much.
Hit = tuple[bytes, str]
async def from_redis(
    cache: TwoTierCache, redis: RedisTier, namespace: str, keys: list[str],
    budget: AnswerBudget,
) -> tuple[dict[str, Hit], list[str] | None]:
    """Redis's hits among `keys` (without repeats) read within `budget`, by
    key, and its misses (None: Redis unavailable, nothing read); a key in
    neither was not read (the budget closed before it)."""
    fill = cache.memory.capacity > 0
    read = await cache._reads.read_many(redis, namespace, keys, budget, fill=fill)
    if read is None:
        return {}, None
    replies, overtaken = read
    hits, misses, absent = await _settled(cache, redis, namespace, replies,
                                          overtaken if fill else None)
    stats = cache.stats
    stats.redis_hits += len(replies) - absent
    stats.redis_misses += absent
    stats.misses += len(misses)
    stats.namespace_misses[namespace] += len(misses)
    stats.namespace_redis_hits[namespace] += len(hits)
    return hits, misses


async def _settled(
    cache: TwoTierCache, redis: RedisTier, namespace: str, replies: dict[str, Reply],
    overtaken: set[str] | None,
) -> tuple[dict[str, Hit], list[str], int]:
    """The hits and misses of `replies`, and how many were absent (or not
    ours); each hit kept in memory unless `overtaken` names it (None: none
    may be kept)."""
    stale_window = redis.stale_ms.get(namespace)
    now_ms = int(cache.wall() * 1000)
    ttl_ms = cache.namespace_ttls_ms[namespace]
    put, kept, decode = cache.memory.put, cache.decodings.kept.get, cache.decodings.decode
    hits: dict[str, Hit] = {}
    misses: list[str] = []
    absent = 0
    for key, (raw, pttl) in replies.items():
        found = None
        if raw is not None and pttl != -2:
            known = kept(key)
            found = known[1] if known is not None and known[0] == raw else decode(key, raw)
        if found is None:  # no such key (or not a value this service wrote)
            absent += 1
            misses.append(key)
            continue
        value, content_type, stamp = found
        # Unpacked, not read by name: a NamedTuple's field is a descriptor
        # call, an unpacking one specialized instruction.
        _, expires_at_ms, _, tags = stamp
        keep = overtaken is not None and key not in overtaken
        if tags:
            held = await _tags_hold(cache, namespace, key, found, pttl, keep)
            if held is None:
                misses.append(key)
                continue
            keep = held
        keep_ms = ttl_ms
        if stale_window and expires_at_ms is not None:
            # A namespace with a stale window: past its logical expiry is a
            # miss here (only a single GET may ask for a stale value).
            if expires_at_ms <= now_ms:
                misses.append(key)
                continue
            keep_ms = min(keep_ms, expires_at_ms - now_ms)
        if keep:  # never longer than Redis keeps the key
            put(namespace, key, value, content_type, min(keep_ms, pttl) if pttl >= 0 else keep_ms,
                from_redis=True, stamp=stamp)
        hits[key] = (value, content_type)
    return hits, misses, absent


async def _tags_hold(cache: TwoTierCache, namespace: str, key: str, found: Decoded, pttl: int,
                     keep: bool) -> bool | None:
    """A tagged value's tags checked (tags.checked): None when one of them
    was invalidated (a miss), else whether it may still be kept."""
    value, content_type, stamp = found
    stored = StoredValue(value, content_type, pttl if pttl >= 0 else None, stamp)
    checked, keep = await tag_checked(cache, namespace, key, stored, keep)
    return None if checked is None else keep
