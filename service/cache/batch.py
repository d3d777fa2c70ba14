"""Many keys of one namespace at once (`_mget`, `_mset`, `_mdelete`): per
key exactly what the single operations of TwoTierCache do, with Redis's
part of the whole batch sent as one batch through the link.

    get_many ─► memory, all keys in one loop (MemoryTier.get_many: one clock
                reading; hits answered there)
             ─► the misses: ONE command, a script answering each key's value
                and PTTL (RedisTier.get_many; one per slot in a cluster, each
                master's in one round trip, in parallel), and a GET per value
                too large for that script's reply
                ─► every reply decoded and settled in one pass, as a single
                   GET's is settled (stale window, FillGuard, memory fill):
                   batch_reads.py
             Redis unavailable ─► the misses stay misses, at once
             the answer's byte budget (service.cache.budget) spent ─► the
                keys not read yet are "unread": neither hits nor misses
    write_many ─► each value stamped and put in memory (as `write`)
               ─► one batch of SET PX (the tags' ENSUREs ahead, when due:
                  service.cache.tag_writes) ─► STORED, or MEMORY_FALLBACK (outbox)
                  (too large for memory and Redis unavailable: NOT_STORED)
    delete_many ─► memory, then one batch of DEL lease + DEL value per key

Not MGET: a read needs each key's PTTL for the memory fill, as a single
GET has it.

This is TwoTierCache's other half, kept apart for size: it calls the
cache's own steps (`_changed`, `_note`, `_reads`) so that a batch cannot
drift from what the single operations promise; a batch's Redis replies are
settled by batch_reads.py, in one pass, by the rules of `_settle`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from service.cache.batch_reads import Hit, from_redis
from service.cache.budget import AnswerBudget
from service.cache.codec import new_stamp
from service.cache.entry import Entry
from service.cache.outbox import DELETE, PUT
from service.cache.tag_writes import Upkeep
from service.cache.two_tier import TwoTierCache, Write


class NewValue(NamedTuple):
    """One entry of a `_mset`, checked by the HTTP layer."""

    key: str
    value: bytes
    content_type: str
    ttl_ms: int
    tags: tuple[str, ...] = ()




class Answer(NamedTuple):
    """A batch read: memory's hits (its entries) and Redis's by key, the
    keys missed, and the keys not read within the answer's byte budget."""

    memory: dict[str, Entry]
    redis: dict[str, Hit]
    misses: list[str]
    unread: list[str]


async def get_many(
    cache: TwoTierCache, namespace: str, keys: list[str], max_bytes: int
) -> Answer:
    """`keys` (without repeats) read into an answer carrying at most
    `max_bytes` of values (at least one value, whatever its size, when
    there is one to give)."""
    budget = AnswerBudget(max_bytes)
    memory, missed, size, tagged = cache.memory.get_many(namespace, keys)
    if tagged:  # a tag may have been invalidated: that entry is dropped, a miss
        memory = {key: entry for key, entry in memory.items()
                  if not cache.drop_if_invalidated(namespace, key, entry)}
        missed = [key for key in keys if key not in memory]
        size = sum(len(entry.value) for entry in memory.values())
    # Summed, and walked again only when over: a budget call per hit cost
    # ~10 us per 100 memory hits, on every batch, for the rare large one.
    if size > max_bytes:
        memory = {key: entry for key, entry in memory.items() if budget.takes(len(entry.value))}
    else:
        budget.spend(size)
    cache.count_memory_hits(namespace, len(memory), len(missed))
    if not missed or (budget.closed and cache.redis is not None):
        return _answer(keys, memory, {}, [], budget)
    if cache.redis is None:
        return _answer(keys, memory, {}, _missed(cache, namespace, missed), budget)
    redis, misses = await from_redis(cache, cache.redis, namespace, missed, budget)
    if misses is None:  # Redis unavailable
        return _answer(keys, memory, {}, _missed(cache, namespace, missed), budget)
    return _answer(keys, memory, redis, misses, budget)


def _missed(cache: TwoTierCache, namespace: str, missed: list[str]) -> list[str]:
    """Memory-only, or Redis unavailable: what memory missed is a miss."""
    cache.stats.misses += len(missed)
    cache.stats.namespace_misses[namespace] += len(missed)
    return missed


def _answer(keys: list[str], memory: dict[str, Entry], redis: dict[str, Hit],
            misses: list[str], budget: AnswerBudget) -> Answer:
    """The answer; the keys it neither carries nor calls a miss are unread.
    Only a closed budget leaves any (Redis's script sizes what it does not
    read, never drops it; each sized key is then taken or the budget closes)."""
    if not budget.closed:
        return Answer(memory, redis, misses, [])
    answered = set(misses)
    return Answer(memory, redis, misses, [key for key in keys if key not in memory
                                          and key not in redis and key not in answered])


async def write_many(
    cache: TwoTierCache, namespace: str, entries: Sequence[NewValue]
) -> dict[str, str]:
    """Where each value landed (a Write value per key), as `write` says it."""
    if not entries:
        return {}
    tags = sorted({tag for entry in entries for tag in entry.tags})
    # The records of the batch's tags, kept alive once for all its values.
    upkeep = await cache.tag_upkeep(namespace, tags) if tags else None
    try:
        return await _write_many(cache, namespace, entries, upkeep)
    finally:
        if upkeep is not None:  # if the batch did not hand the replies yet
            cache.tags_written(upkeep, None)


async def _write_many(
    cache: TwoTierCache, namespace: str, entries: Sequence[NewValue], upkeep: Upkeep | None
) -> dict[str, str]:
    wall_s = cache._wall()
    in_memory: dict[str, bool] = {}
    commands: list[list[Any]] = []
    for key, value, content_type, ttl_ms, entry_tags in entries:
        cache._changed(f"{namespace}:{key}")
        stamp = new_stamp(wall_s, ttl_ms, upkeep.tagged(entry_tags) if upkeep and entry_tags else ())
        # Memory first, as `write`: the Redis copy then expires later.
        kept = in_memory[key] = cache.memory.put(
            namespace, key, value, content_type, ttl_ms, stamp=stamp
        )
        if kept:
            cache.stats.sets += 1
        if cache.redis is not None:
            commands.append(cache.redis.set_command(namespace, key, value, content_type, ttl_ms, stamp))
    reached = False
    if cache.redis is not None:
        ahead = upkeep.commands if upkeep is not None else []
        replies = await cache.redis.replies([*ahead, *commands])
        reached = replies is not None
        if upkeep is not None:
            cache.tags_written(upkeep, replies)
    landed: dict[str, str] = {}
    for key, kept in in_memory.items():
        if reached:
            landed[key] = Write.STORED
            if not kept:  # Redis alone holds it: drop memory's older copy
                cache.stats.sets += 1
                cache.memory.delete(namespace, key)
            cache._note(namespace, key, PUT, True)
        elif kept:
            landed[key] = Write.MEMORY_FALLBACK
            cache._note(namespace, key, PUT, False)
        else:
            landed[key] = Write.NOT_STORED
    await cache.persisted()
    return landed


async def delete_many(cache: TwoTierCache, namespace: str, keys: Sequence[str]) -> bool:
    """False when Redis could not remove them (memory did), as `delete`.
    Each key's lease ends first, as RedisTier.delete ends it."""
    if not keys:
        return True
    cache.stats.deletes += len(keys)
    for key in keys:
        cache._changed(f"{namespace}:{key}")
        cache.memory.delete(namespace, key)
    redis = cache.redis
    if redis is None:
        return True
    commands: list[list[Any]] = []
    for key in keys:
        commands += (["DEL", redis.lease_key(namespace, key)], redis.delete_command(namespace, key))
    reached = await redis.run(commands)
    for key in keys:
        cache._note(namespace, key, DELETE, reached)
    await cache.persisted()
    return reached


def forget_namespace(cache: TwoTierCache, namespace: str) -> int:
    """Drop this instance's memory entries of `namespace` (a purge); how many."""
    head = f"{namespace}:"
    names = [name for name in cache.memory.names() if name.startswith(head)]
    for name in names:
        cache._changed(name)
        cache.memory.delete_by_name(name)
    return len(names)


def forget_redis_keys(cache: TwoTierCache, redis_keys: Sequence[bytes]) -> None:
    """Drop the memory copies of Redis keys this instance just removed:
    NOLOOP keeps its own changes off its invalidation stream."""
    if cache.redis is None:
        return
    for redis_key in redis_keys:
        name = cache.redis.memory_name(redis_key)
        if name is not None:
            cache._changed(name)
            cache.memory.delete_by_name(name)
