"""What a cache tier stores for one key: the body, its type, when it expires,
and the stamp (stored at, logical expiry, version) of the PUT that wrote it."""

from __future__ import annotations

from typing import NamedTuple

from service.cache.codec import Stamp


class Entry(NamedTuple):
    """Immutable; a NamedTuple because one is built on every PUT and every
    Redis hit, and a tuple is the cheapest immutable record to build."""

    value: bytes
    content_type: str
    # Monotonic deadline (seconds) in the memory tier's clock.
    expires_at: float
    # True when the memory tier was filled from Redis (invalidation and
    # replay need to know which entries Redis has already seen).
    from_redis: bool
    # What the entry costs the memory tier's byte budget (see MemoryTier).
    size: int
    # The stamp of the PUT (or of the Redis value it was filled from): kept,
    # never computed on a hit. None only for an entry put without one
    # (standalone use of the tier: tests, the benchmark); the two-tier cache
    # always passes one.
    stamp: Stamp | None = None
