"""The Redis tier: encoded values under `{prefix}:{namespace}:{key}`.

Every operation asks the link for a session first; when the link is not
ready it gets none and returns at once (the caller serves from memory). A
failed command is reported to the link, which decides whether the link
drops; the operation is retried, up to REDIS_MAX_RETRIES_PER_REQUEST times,
only while the link is still ready. Commands go through the session's
auto-pipeline, so a read's GET and PTTL share one round trip, and so do the
commands of concurrent requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from service.cache import codec
from service.cache.stats import CacheStats
from service.link.classify import REDIS_FAILURES
from service.link.driver import RedisLink
from service.link.pipeline import mark_retrieved

Command = Sequence[bytes | str | int | float]


class StoredValue(NamedTuple):
    """A value read back from Redis (a NamedTuple: built on every Redis hit)."""

    value: bytes
    content_type: str
    # Remaining TTL in Redis, None when the key has no expiry.
    ttl_ms: int | None


class RedisTier:
    def __init__(self, link: RedisLink, prefix: str, max_retries: int, stats: CacheStats) -> None:
        self._link = link
        self._prefix = prefix
        self._attempts = 1 + max_retries
        self._stats = stats

    def key(self, namespace: str, key: str) -> str:
        return f"{self._prefix}:{namespace}:{key}"

    async def fetch(self, namespace: str, key: str) -> StoredValue | None:
        """The stored value, or None on a miss or when Redis is unavailable."""
        name = self.key(namespace, key)
        replies = await self._run((("GET", name), ("PTTL", name)))
        if replies is None:
            return None
        raw, pttl = replies
        if raw is None or pttl == -2:
            self._stats.redis_misses += 1
            return None
        try:
            value, content_type = codec.decode(raw)
        except codec.UndecodableValue:
            self._stats.redis_misses += 1
            return None
        self._stats.redis_hits += 1
        return StoredValue(value, content_type, pttl if pttl >= 0 else None)

    async def store(self, namespace: str, key: str, value: bytes, content_type: str, ttl_ms: int) -> bool:
        raw = codec.encode(value, content_type)
        return await self._run((("SET", self.key(namespace, key), raw, "PX", ttl_ms),)) is not None

    async def remove(self, namespace: str, key: str) -> bool:
        return await self._run((("DEL", self.key(namespace, key)),)) is not None

    async def _run(self, commands: Sequence[Command]) -> list[Any] | None:
        """Replies in order, or None when Redis could not answer them."""
        for _ in range(self._attempts):
            session = self._link.session()
            if session is None:
                return None
            futures = [session.pipeline.call(*command) for command in commands]
            replies: list[Any] = []
            try:
                # A plain loop: an async comprehension is a coroutine of its own.
                for future in futures:
                    replies.append(await future)
                return replies
            except REDIS_FAILURES as exc:
                mark_retrieved(futures)
                self._stats.redis_errors += 1
                self._link.report_error(exc, session.generation)
        return None

