"""The memory tier: an LRU with per-entry deadlines and a capacity.

An entry expires at the deadline the caller computed (the earliest of its
namespace TTL, the tier's TTL cap and, when filled from Redis, Redis's own
remaining TTL). Expired entries are never served: a read that finds one
removes it. The hot path is one dict lookup, one clock read and one
`move_to_end`, which is why this is an OrderedDict and not a wrapper around
a general-purpose cache; `get` is a closure over locals, so a read makes no
attribute lookups at all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from service.cache.entry import Entry


class MemoryTier:
    """Least-recently-used entries are evicted once `capacity` is exceeded."""

    def __init__(self, capacity: int, ttl_cap_s: float, now: Callable[[], float]) -> None:
        self.capacity = capacity
        self.ttl_cap_s = ttl_cap_s
        self._now = now
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self._touch = self._entries.move_to_end
        self.evictions = 0
        self.expirations = 0
        # The closure replaces the method on the instance: same behaviour.
        self.get = self._build_get()  # type: ignore[method-assign,assignment]

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> Entry | None:
        """The live entry for `key` (now the most recent), or None.

        Replaced per instance by the closure `_build_get` returns; this body
        only runs if called through the class.
        """
        return self._build_get()(key)

    def _build_get(self) -> Callable[[str], Entry | None]:
        # The hot path as a closure over locals: no attribute lookups, and a
        # hit costs one subscript (cheaper than dict.get), one clock read and
        # one move_to_end. `__init__` binds it over `get` on the instance.
        entries = self._entries
        now = self._now
        touch = entries.move_to_end

        def get(key: str) -> Entry | None:
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

    def deadline(self, ttl_s: float) -> float:
        """The monotonic deadline for a TTL, capped by the tier's TTL cap."""
        return self._now() + min(ttl_s, self.ttl_cap_s)

    def put(self, key: str, entry: Entry) -> None:
        if self.capacity <= 0:
            return
        entries = self._entries
        entries[key] = entry
        self._touch(key)
        while len(entries) > self.capacity:
            entries.popitem(last=False)
            self.evictions += 1

    def delete(self, key: str) -> bool:
        return self._entries.pop(key, None) is not None

    def clear(self) -> None:
        self._entries.clear()
