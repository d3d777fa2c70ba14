"""What a cache tier stores for one key: the body, its type, when it expires."""

from __future__ import annotations

from typing import NamedTuple


class Entry(NamedTuple):
    """Immutable, and a NamedTuple rather than a frozen dataclass because one
    is built on every PUT and every Redis hit: a frozen dataclass sets each
    field through object.__setattr__ (~510 ns), a NamedTuple is a tuple (~215 ns).
    """

    value: bytes
    content_type: str
    # Monotonic deadline (seconds) in the memory tier's clock.
    expires_at: float
    # True when the memory tier was filled from Redis (roadmap: invalidation
    # and replay need to know which entries Redis has already seen).
    from_redis: bool = False
