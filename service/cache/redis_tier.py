"""The Redis tier: encoded values under `{prefix}:{namespace}:{key}`.

It only says what to send: the link runs the commands (one pipelined batch
per operation, shared with concurrent requests), retries them up to
REDIS_MAX_RETRIES_PER_REQUEST times while it stays ready, and answers None
when Redis could not; the caller then serves from memory. A read's GET and
PTTL travel in one round trip. Values are written in the stored format v2
(codec.py); every format ever written is read.

A batch read (`get_many`) is one command, not two per key: READ_MANY, a
script answering every key's value and PTTL in one array (the memory fill
needs the TTL Redis will keep the key for, which MGET does not say). Redis
answers it with one reply, parsed by hiredis in one call, where GET + PTTL
per key meant 2n replies and 2n futures. A cluster refuses a script whose
keys are in different slots (CROSSSLOT), so there the keys are grouped by
slot: one script per slot, routed per master by the link.

A batch read is bounded in bytes, twice (service.cache.budget):

    READ_MANY, limit = READ_CHUNK_BYTES ─► each key's value while the reply
        stays within the limit; after that, each key's size (STRLEN) only
      ─► the keys it only sized, in order, while the answer budget lasts:
         one GET each, in round trips of at most READ_CHUNK_BYTES (or one
         value) each
      ─► keys beyond the budget: not read (the caller lists them as unread)

so no reply, and no round trip, is larger than the chunk or one value.
Measured on a loaded 2-core machine: nine 900 KiB values in one script
reply took 100-140 ms (a script copies each value twice), as nine GETs
50-65 ms, one GET ~1 ms; and Redis sends nothing of a pipelined write
until it has produced every reply in it (100 GETs of 900 KiB: 90-200 ms
of silence). The link's deadline is met reply by reply
(service.link.pipeline), so many small replies are progress where one
huge reply, or one huge round trip, is silence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from redis.crc import key_slot

from service.cache import codec
from service.cache.budget import AnswerBudget
from service.cache.codec import Stamp
from service.cache.stats import CacheStats
from service.link.interface import Link

# How a tag record's memory-style name starts (`memory_name` of its key).
TAG_HEAD = "~tag:"

# KEYS: the values' keys; ARGV[1]: the bytes of values the reply may carry.
# Answers, in order, each key's GET (a missing value's is false in Lua: a nil
# in the reply) and PTTL; from the first value that would pass the limit on,
# its STRLEN (an integer) instead of its GET. Then the bytes of the values
# it carries and how many it only sized (the usual reply: none).
READ_MANY = """
local limit, used, sized, replies = tonumber(ARGV[1]), 0, 0, {}
for i, key in ipairs(KEYS) do
  local size = redis.call('STRLEN', key)
  if used + size <= limit then
    used = used + size
    replies[2 * i - 1] = redis.call('GET', key)
  else
    limit = -1
    sized = sized + 1
    replies[2 * i - 1] = size
  end
  replies[2 * i] = redis.call('PTTL', key)
end
replies[2 * #KEYS + 1] = used
replies[2 * #KEYS + 2] = sized
return replies
"""
# What the script's one reply may carry (see the module's docstring).
READ_CHUNK_BYTES = 1 << 20


# A key's value as Redis holds it (None: no such key) and its PTTL.
Reply = tuple[bytes | None, int]


class StoredValue(NamedTuple):
    """A value read back from Redis (a NamedTuple: built on every Redis hit)."""

    value: bytes
    content_type: str
    # Remaining TTL in Redis, None when the key has no expiry.
    ttl_ms: int | None
    # Stored at, logical expiry and version, as the value carries them.
    stamp: Stamp


class RedisTier:
    def __init__(
        self, link: Link, prefix: str, max_retries: int, stats: CacheStats,
        wall: Callable[[], float], stale_ms: Mapping[str, int] | None = None,
    ) -> None:
        self._link = link
        # Per namespace: how long Redis keeps a value past its TTL, as stale.
        self.stale_ms: Mapping[str, int] = stale_ms or {}
        # The injected clock's wall time: a PUT made without a stamp gets one.
        self._wall = wall
        self._prefix = prefix
        # How a lease key's memory-style name starts (every change is checked).
        self._lease_head = f"~lease:{{{prefix}:"
        self._retries = max_retries
        self._stats = stats

    def key(self, namespace: str, key: str) -> str:
        return f"{self._prefix}:{namespace}:{key}"

    def lease_key(self, namespace: str, key: str) -> str:
        """The key's lease (service.cache.leases): the value key is its hash
        tag, so both live in one cluster slot."""
        return f"{self._prefix}:~lease:{{{self._prefix}:{namespace}:{key}}}"

    def tag_key(self, namespace: str, tag: str) -> str:
        """A tag's record (service.cache.tags): under the prefix, so that
        tracking tells every instance when it changes."""
        return f"{self._prefix}:{TAG_HEAD}{namespace}:{tag}"

    def guarded_name(self, name: str) -> str | None:
        """For the memory-style name of a lease key (`~lease:{<value key>}`,
        as `memory_name` gives it), the name of the value it guards."""
        if name.startswith(self._lease_head) and name.endswith("}"):
            return name[len(self._lease_head) : -1]
        return None

    def key_of(self, name: str) -> str:
        """The Redis key of the memory tier's name `namespace:key`."""
        return f"{self._prefix}:{name}"

    def memory_name(self, redis_key: bytes) -> str | None:
        """The memory tier's name (`namespace:key`) of a Redis key under the
        prefix; None for any other key."""
        text = redis_key.decode("utf-8", "replace")
        head, sep, name = text.partition(":")
        return name if sep and head == self._prefix else None

    async def get(self, namespace: str, key: str, *, ttl: bool = True) -> StoredValue | None:
        """The stored value, or None on a miss or when Redis is unavailable;
        with `ttl`, what Redis keeps it for too (its PTTL, read with it: all
        a memory fill needs it for), else ttl_ms None (a GET alone: a reader
        with no memory tier to fill saves a command a read)."""
        name = self.key(namespace, key)
        if not ttl:
            replies = await self._link.execute((("GET", name),), retries=self._retries)
            return None if replies is None else self._stored(replies[0], -1)
        replies = await self._link.execute((("GET", name), ("PTTL", name)), retries=self._retries)
        if replies is None:
            return None
        return self._stored(*replies)

    async def get_many(
        self, namespace: str, keys: list[str], budget: AnswerBudget
    ) -> dict[str, Reply] | None:
        """What Redis holds (as stored: codec.decode_many decodes it) and its
        PTTL for each key read within `budget`; a key absent from the answer
        was not read. None when Redis is unavailable. One READ_MANY script
        for all of them (one per slot in a cluster, the chunk shared among
        them), then a GET per value the script only sized. Not counted here:
        the caller counts what it decoded (service.cache.batch_reads)."""
        head = f"{self._prefix}:{namespace}:"
        names = [head + key for key in keys]
        groups = _by_slot(names) if self._link.mode == "cluster" else [names]
        limit = max(0, min(READ_CHUNK_BYTES, budget.left)) // len(groups)
        commands: list[list[str | int]] = [
            ["EVAL", READ_MANY, len(group), *group, limit] for group in groups
        ]
        replies = await self._link.execute(commands, retries=self._retries)
        if replies is None:
            return None
        reply = replies[0]
        if groups[0] is names and reply[-1] == 0:
            # One script (not split by slot) read every value: no loop.
            budget.spend(reply[-2])
            return dict(zip(keys, zip(reply[0:-2:2], reply[1:-2:2], strict=True), strict=True))
        found: dict[str, Reply] = {}
        sized: dict[str, tuple[int, int]] = {}
        for group, reply in zip(groups, replies, strict=True):
            for i, name in enumerate(group):
                raw, pttl = reply[2 * i], reply[2 * i + 1]
                if type(raw) is int:
                    sized[name] = (raw, pttl)
                else:
                    budget.spend(0 if raw is None else len(raw))
                    found[name] = (raw, pttl)
        if sized and not await self._get_sized(names, sized, budget, found):
            return None
        return {key: found[name] for key, name in zip(keys, names, strict=True) if name in found}

    async def _get_sized(
        self, names: list[str], sized: dict[str, tuple[int, int]], budget: AnswerBudget,
        found: dict[str, Reply],
    ) -> bool:
        """GET the values READ_MANY only sized, in the order asked, while
        `budget` takes them, into `found`; False when Redis is unavailable.
        Their PTTL is the script's, a moment older (as a single GET's PTTL
        is a moment younger than its value)."""
        chosen = [name for name in names if name in sized and budget.takes(sized[name][0])]
        for part in _chunks(chosen, sized):
            replies = await self._link.execute([("GET", name) for name in part],
                                               retries=self._retries)
            if replies is None:
                return False
            for name, raw in zip(part, replies, strict=True):
                found[name] = (raw, sized[name][1])
        return True

    def _stored(self, raw: bytes | None, pttl: int) -> StoredValue | None:
        """A GET and PTTL's replies as a value (counted as a hit or a miss)."""
        if raw is None or pttl == -2:
            self._stats.redis_misses += 1
            return None
        try:
            value, content_type, stamp = codec.decode(raw)
        except codec.UndecodableValue:
            self._stats.redis_misses += 1
            return None
        self._stats.redis_hits += 1
        return StoredValue(value, content_type, pttl if pttl >= 0 else None, stamp)

    async def put(
        self, namespace: str, key: str, value: bytes, content_type: str, ttl_ms: int,
        stamp: Stamp | None = None,
    ) -> bool:
        """True once Redis stored it; False when Redis is unavailable. (A
        lease on the key no longer fits the changed value: service.cache
        .lease_scripts.)"""
        command = self.set_command(namespace, key, value, content_type, ttl_ms, stamp)
        return await self._link.execute((command,), retries=self._retries) is not None

    async def delete(self, namespace: str, key: str) -> bool:
        """True once Redis removed it (or never had it); False when unavailable.
        Any lease on the key ends first: its holder's PUT then finds none
        (a value gone looks as it did before the lease, so only this tells)."""
        command = self.delete_command(namespace, key)
        batch = (self._end_lease(namespace, key), command)
        return await self._link.execute(batch, retries=self._retries) is not None

    async def replies(self, commands: list[list[Any]]) -> list[Any] | None:
        """The replies to `commands`, sent as one batch; None when Redis is
        unavailable (tag records: each command routed by its own key)."""
        return await self._link.execute(commands, retries=self._retries)

    async def run(self, commands: list[list[Any]]) -> bool:
        """True once Redis carried out `commands`, sent as one batch; False
        when it is unavailable (batches of writes and deletes)."""
        return await self._link.execute(commands, retries=self._retries) is not None

    def _end_lease(self, namespace: str, key: str) -> list[Any]:
        return ["DEL", self.lease_key(namespace, key)]

    def set_command(
        self, namespace: str, key: str, value: bytes, content_type: str, ttl_ms: int,
        stamp: Stamp | None = None,
    ) -> list[Any]:
        """SET PX of the v2 value; `stamp` is the PUT's (a new one without it,
        or when it is a v1 value's, which has no times to write)."""
        if stamp is None or stamp.stored_at_ms is None:
            stamp = codec.new_stamp(self._wall(), ttl_ms)
        raw = codec.encode(value, content_type, stamp)
        return ["SET", self.key(namespace, key), raw, "PX", self.px(namespace, ttl_ms)]

    def px(self, namespace: str, ttl_ms: int) -> int:
        """Redis's expiry for a value of `ttl_ms`: its TTL and the namespace's
        stale window (the logical expiry travels in the value's stamp)."""
        return ttl_ms + self.stale_ms.get(namespace, 0)

    def delete_command(self, namespace: str, key: str) -> list[Any]:
        return ["DEL", self.key(namespace, key)]

    def pattern(self, namespace: str) -> str:
        """A SCAN MATCH pattern for every key of `namespace` (the prefix's
        glob characters escaped; namespaces have none)."""
        return self._glob_prefix() + f":{namespace}:*"

    def lease_pattern(self, namespace: str) -> str:
        """A SCAN MATCH pattern for every lease of `namespace`'s keys."""
        prefix = self._glob_prefix()
        return f"{prefix}:~lease:{{{prefix}:{namespace}:*"

    def _glob_prefix(self) -> str:
        return "".join("\\" + c if c in "*?[]\\" else c for c in self._prefix)


def _chunks(names: list[str], sized: dict[str, tuple[int, int]]) -> Iterator[list[str]]:
    """`names` in runs of at most READ_CHUNK_BYTES (or one value), each its
    own round trip: Redis produces every reply of what it read at once
    before it sends the first byte (~2 ms per MiB on a loaded machine), so
    one write asking for 87 MiB was silent for up to 200 ms."""
    part: list[str] = []
    size = 0
    for name in names:
        if part and size + sized[name][0] > READ_CHUNK_BYTES:
            yield part
            part, size = [], 0
        part.append(name)
        size += sized[name][0]
    if part:
        yield part


def _by_slot(names: list[str]) -> list[list[str]]:
    """`names` grouped by cluster slot (a script's keys must share one)."""
    groups: dict[int, list[str]] = {}
    for name in dict.fromkeys(names):  # a key asked for twice is read once
        groups.setdefault(key_slot(name.encode()), []).append(name)
    return list(groups.values())
