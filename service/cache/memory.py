"""The memory tier: an LRU with per-entry deadlines, bounded by entries and bytes.

    get(namespace, key) ─► entry? ──no──► None
                             │yes
                             ▼
                          deadline passed? ──yes──► drop it ─► None
                             │no
                             ▼
                          mark most recent ─► entry

    put(namespace, key, value, type, ttl) ─► too large to keep? ──yes──► False (no change)
             │no
             ▼
           Entry(deadline = now + min(ttl, cap)) replaces any older one, as the most recent
        ─► evict the least recent until both bounds hold ─► True

An entry expires at the earliest of the TTL its writer asked for (its
namespace's, or Redis's remaining TTL when filled from Redis) and the tier's
TTL cap. Expired entries are never served: a read that finds one removes it.

Two bounds hold at once: at most `capacity` entries and at most `max_bytes`
of estimated memory (body, content type, key and a fixed per-entry overhead).
A value larger than 1/16 of the byte budget is never kept: one such value
would evict a sixteenth of the tier, and a few would flush it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

from service.cache.codec import Stamp
from service.cache.entry import Entry
from service.speedups import lookup_many

# Bytes an entry costs beyond its body, content type and key: the tuple, the
# float deadline, the bytes and str headers, the OrderedDict's slot and link,
# and the PUT's stamp (~150 of them: a tuple, two ints, 8 bytes of version)
# (measured with tracemalloc by tests/service/test_memory_tier.py).
ENTRY_OVERHEAD_BYTES = 470
# The largest entry kept is this fraction of the byte budget.
LARGEST_ENTRY_SHARE = 16


class Found(NamedTuple):
    """A batch's look-up (`get_many`): the live entries by key, in the order
    asked, the keys missed, the bytes of the entries' values, and whether
    any of them carries tags (or has no stamp, which only the tier used
    alone puts: the caller then looks at each)."""

    hits: dict[str, Entry]
    missed: list[str]
    size: int
    tagged: bool


def entry_size(key: str, value: bytes, content_type: str) -> int:
    """What one entry counts against the byte budget."""
    return len(value) + len(content_type) + len(key) + ENTRY_OVERHEAD_BYTES


class MemoryTier:
    """Least-recently-used entries are evicted once either bound is exceeded.

    `capacity` and `max_bytes` may be changed at run time: the next `put`
    evicts down to them (`resize` does it at once).
    """

    def __init__(
        self, capacity: int, max_bytes: int, ttl_cap_s: float, now: Callable[[], float]
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self.ttl_cap_s = ttl_cap_s
        self._now = now
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self.bytes_used = 0
        self.evictions = 0
        self.expirations = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def clock(self) -> Callable[[], float]:
        """The monotonic clock its expiry reads (seconds)."""
        return self._now

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def remaining_ms(self, entry: Entry) -> int:
        """How long `entry` has left to live here, in whole milliseconds."""
        return int((entry.expires_at - self._now()) * 1000)

    def largest_entry(self) -> int:
        """The largest entry size (see `entry_size`) this tier keeps."""
        return self.max_bytes // LARGEST_ENTRY_SHARE

    def get(self, namespace: str, key: str) -> Entry | None:
        """The live entry (now the most recent), or None."""
        return self.get_by_name(f"{namespace}:{key}")

    def get_by_name(self, name: str) -> Entry | None:
        """`get` by the entry's name, `namespace:key` (the HTTP fast path
        has it at hand; namespaces cannot contain ':', so it is unambiguous)."""
        entry = self._entries.get(name)
        if entry is None:
            return None
        if entry.expires_at <= self._now():
            self._remove(name)
            self.expirations += 1
            return None
        self._entries.move_to_end(name)
        return entry

    def get_many(self, namespace: str, keys: list[str]) -> Found:
        """`get` of each key (a batch, keys without repeats), reading the
        clock once; in one loop, with what the batch asks of its hits
        besides (their bytes, whether any carries tags) counted in it: the
        loop is most of what a batch of memory hits costs (in C where it
        was built: service/speedups.py)."""
        entries = self._entries
        if not entries:  # nothing to find (CACHE_LRU_MAX_ITEMS=0: always)
            return Found({}, list(keys), 0, False)
        hits, missed, expired, size, tagged = lookup_many(
            entries, f"{namespace}:", keys, self._now())
        for name in expired:
            self._remove(name)
        self.expirations += len(expired)
        return Found(hits, missed, size, tagged)

    def put(
        self, namespace: str, key: str, value: bytes, content_type: str, ttl_ms: int,
        from_redis: bool = False, stamp: Stamp | None = None,
    ) -> bool:
        """Keep the value for at most `ttl_ms` (and the tier's cap) as the
        most recent entry, replacing any older one. False when it is too
        large to keep (or the tier holds nothing): then nothing changed, and
        the caller decides what becomes of an older copy. `stamp` is kept
        as it is (shared with the Redis value of the same PUT)."""
        name = f"{namespace}:{key}"
        size = entry_size(name, value, content_type)
        if self.capacity <= 0 or size > self.largest_entry():
            return False
        self._remove(name)
        expires_at = self._now() + min(ttl_ms / 1000, self.ttl_cap_s)
        entries = self._entries
        entries[name] = Entry(value, content_type, expires_at, from_redis, size, stamp)
        self.bytes_used += size
        if len(entries) > self.capacity or self.bytes_used > self.max_bytes:
            self._evict()
        return True

    def delete(self, namespace: str, key: str) -> bool:
        """Forget the key; True (there is nothing left to do), as for every tier."""
        self._remove(f"{namespace}:{key}")
        return True

    def delete_by_name(self, name: str) -> bool:
        """`delete` by the entry's name; True when there was an entry."""
        return self._remove(name) is not None

    def resize(self, capacity: int, max_bytes: int) -> None:
        """New bounds, enforced now."""
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._evict()

    def names(self) -> list[str]:
        """Every entry's name (`namespace:key`), expired ones included."""
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes_used = 0

    def _evict(self) -> None:
        entries = self._entries
        while entries and (len(entries) > self.capacity or self.bytes_used > self.max_bytes):
            _, oldest = entries.popitem(last=False)
            self.bytes_used -= oldest.size
            self.evictions += 1

    def _remove(self, key: str) -> Entry | None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes_used -= entry.size
        return entry
