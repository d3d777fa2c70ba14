"""The memory tier: an LRU with per-entry deadlines and a capacity.

    get(key) ─► entry? ──no──► None
                  │yes
                  ▼
               deadline passed? ──yes──► drop it ─► None
                  │no
                  ▼
               mark most recent ─► entry

    put(key, value, type, ttl) ─► Entry(deadline = now + min(ttl, cap))
                               ─► store as most recent ─► over capacity? evict the least recent

An entry expires at the earliest of the TTL its writer asked for (its
namespace's, or Redis's remaining TTL when filled from Redis) and the tier's
TTL cap. Expired entries are never served: a read that finds one removes it.

`get` and `put` run on every cache request, so they are closures over locals
bound per instance in `__init__`: a read is one dict lookup, one clock read
and one `move_to_end`, with no attribute lookups; that is why this is an
OrderedDict and not a wrapper around a general-purpose cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from service.cache.entry import Entry, new_entry


class Put(Protocol):
    def __call__(
        self, key: str, value: bytes, content_type: str, ttl_s: float, from_redis: bool = False
    ) -> Entry: ...


class MemoryTier:
    """Least-recently-used entries are evicted once `capacity` is exceeded."""

    def __init__(self, capacity: int, ttl_cap_s: float, now: Callable[[], float]) -> None:
        self.capacity = capacity
        self.ttl_cap_s = ttl_cap_s
        self._now = now
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self.evictions = 0
        self.expirations = 0
        self.get: Callable[[str], Entry | None] = self._build_get()
        self.put: Put = self._build_put()

    def __len__(self) -> int:
        return len(self._entries)

    def _build_get(self) -> Callable[[str], Entry | None]:
        """`get(key)`: the live entry for `key` (now the most recent), or None."""
        entries = self._entries
        now = self._now
        touch = entries.move_to_end

        def get(key: str) -> Entry | None:
            # A subscript is cheaper than dict.get, and misses are the rare case.
            try:
                entry = entries[key]
            except KeyError:
                return None
            if entry.expires_at <= now():
                del entries[key]
                self.expirations += 1
                return None
            touch(key)
            return entry

        return get

    def _build_put(self) -> Put:
        """`put(key, value, content_type, ttl_s, from_redis=False)`: store the
        value for at most `ttl_s` (and the tier's cap) as the most recent
        entry; return the entry. With capacity 0 it is built but not kept."""
        entries = self._entries
        now = self._now
        touch = entries.move_to_end
        evict_oldest = entries.popitem
        capacity = self.capacity
        cap_s = self.ttl_cap_s

        def put(
            key: str, value: bytes, content_type: str, ttl_s: float, from_redis: bool = False
        ) -> Entry:
            # A conditional rather than min(): the builtin call costs several times as much.
            expires_at = now() + (ttl_s if ttl_s < cap_s else cap_s)  # noqa: FURB136
            entry = new_entry(value, content_type, expires_at, from_redis)
            if capacity > 0:
                entries[key] = entry
                touch(key)
                # One entry in, at most one out: never more than capacity.
                if len(entries) > capacity:
                    evict_oldest(False)
                    self.evictions += 1
            return entry

        return put

    def delete(self, key: str) -> bool:
        return self._entries.pop(key, None) is not None

    def clear(self) -> None:
        self._entries.clear()
