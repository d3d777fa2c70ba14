"""Counters of what the cache did, read by /health/detailed and /metrics.

Plain integers bumped on the request path (cheaper than a metrics library's
locked counters); /metrics exposes them as Prometheus counters at scrape time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field


def _per_namespace() -> defaultdict[str, int]:
    return defaultdict(int)


@dataclass(slots=True)
class CacheStats:
    memory_hits: int = 0
    memory_misses: int = 0
    redis_hits: int = 0
    # Lookups Redis answered with nothing (absent, expired, or not ours).
    redis_misses: int = 0
    # Lookups that found the value in neither tier.
    misses: int = 0
    sets: int = 0
    deletes: int = 0
    # Memory entries dropped because Redis said their key changed (or was
    # flushed), and because the link reconnected (messages may have been lost).
    invalidated: int = 0
    forgotten_at_reconnect: int = 0
    # Keys named by invalidation messages (held here or not), and flushes.
    invalidations_received: int = 0
    # Memory misses that joined another caller's Redis read of the same key
    # instead of sending their own (request coalescing), and how many of
    # them got a value. redis_hits / redis_misses count the reads sent.
    coalesced_reads: int = 0
    coalesced_hits: int = 0
    # GET outcomes per namespace, end to end: answered from memory, answered
    # from Redis (a coalesced or a served-stale value too), neither. Only
    # configured namespaces ever get here (only their entries are stored,
    # and Redis is read after the namespace is checked).
    namespace_memory_hits: defaultdict[str, int] = field(default_factory=_per_namespace)
    namespace_redis_hits: defaultdict[str, int] = field(default_factory=_per_namespace)
    namespace_misses: defaultdict[str, int] = field(default_factory=_per_namespace)

    @property
    def hits(self) -> int:
        """Lookups answered with a value, end to end (a coalesced one too)."""
        return self.memory_hits + self.redis_hits + self.coalesced_hits


@dataclass(slots=True)
class LeaseStats:
    """What the leases did (service.cache.leases)."""

    # Tokens handed out, and those of them taken over by a waiter (the
    # previous holder gave the lease back or let it run out).
    issued: int = 0
    taken_over: int = 0
    # Of those, the ones whose previous lease ran out (its holder never
    # PUT nor gave it back: it died, or its computation outlived the lease).
    expired: int = 0
    # Waiters answered with the holder's value (`X-Cache: hit-fill`).
    filled: int = 0
    # PUTs with a token that was not the key's lease (409), and leases given back.
    refused: int = 0
    released: int = 0
    # Requests waiting for a holder's value right now, and misses answered
    # `pending` at once because CACHE_LEASE_MAX_WAITERS(_PER_KEY) were waiting.
    waiters: int = 0
    turned_away: int = 0
