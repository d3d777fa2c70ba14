"""What a cache tier stores for one key: the body, its type, when it expires."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Entry:
    value: bytes
    content_type: str
    # Monotonic deadline (seconds) in the memory tier's clock.
    expires_at: float
    # True when the memory tier was filled from Redis (roadmap: invalidation
    # and replay need to know which entries Redis has already seen).
    from_redis: bool = False
