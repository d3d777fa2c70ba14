"""The two-tier cache: memory first, then Redis, then a miss.

    get ─► memory ──hit──► answer (hit-memory)
             │miss
             ▼ (only while the link is ready; otherwise straight to miss)
           Redis: GET + PTTL in one round trip ──hit──► fill memory ─► hit-redis
             │miss / unavailable
             ▼
           miss

    put ─► memory, then Redis (SET PX)      delete ─► memory, then Redis (DEL)

Every memory-tier write and delete goes through `_remember` / `_forget`: the
one place where cross-instance invalidation will hook in. A Redis failure is
never the caller's problem: the operation completes on the memory tier.

A read is two calls, `get_memory` (synchronous) and `get_redis` (after a
memory miss), so the HTTP handler answers a memory hit without creating and
awaiting a coroutine.
"""

from __future__ import annotations

from collections.abc import Mapping

from service.cache.entry import Entry
from service.cache.memory import MemoryTier
from service.cache.redis_tier import RedisTier
from service.cache.stats import CacheStats


class TwoTierCache:
    def __init__(
        self,
        memory: MemoryTier,
        redis: RedisTier | None,
        namespace_ttls_ms: Mapping[str, int],
        stats: CacheStats,
    ) -> None:
        self.memory = memory
        self.redis = redis
        self.namespace_ttls_ms = namespace_ttls_ms
        self.stats = stats

    def get_memory(self, namespace: str, key: str) -> Entry | None:
        """The memory tier's entry (a counted memory hit), or None.

        A miss is counted by `get_redis`, which follows one: a caller that
        refuses the request after a miss (a bad key) leaves no count behind.
        """
        entry = self.memory.get(f"{namespace}:{key}")
        if entry is not None:
            self.stats.memory_hits += 1
        return entry

    async def get_redis(self, namespace: str, key: str) -> Entry | None:
        """After `get_memory` missed (counted here): Redis's entry, now
        remembered, or a miss."""
        self.stats.memory_misses += 1
        stored = await self.redis.fetch(namespace, key) if self.redis is not None else None
        if stored is None:
            self.stats.misses += 1
            return None
        ttl_ms = self.namespace_ttls_ms[namespace]
        if stored.ttl_ms is not None:
            ttl_ms = min(ttl_ms, stored.ttl_ms)
        return self._remember(
            f"{namespace}:{key}", stored.value, stored.content_type, ttl_ms, from_redis=True
        )

    async def put(
        self, namespace: str, key: str, value: bytes, content_type: str, ttl_ms: int
    ) -> None:
        self.stats.sets += 1
        # Memory first: Redis's expiry is then set later than memory's, so
        # the memory copy can never outlive the Redis one.
        self._remember(f"{namespace}:{key}", value, content_type, ttl_ms)
        if self.redis is not None:
            await self.redis.store(namespace, key, value, content_type, ttl_ms)

    async def delete(self, namespace: str, key: str) -> None:
        self.stats.deletes += 1
        self._forget(f"{namespace}:{key}")
        if self.redis is not None:
            await self.redis.remove(namespace, key)

    def _remember(
        self, memory_key: str, value: bytes, content_type: str, ttl_ms: int,
        from_redis: bool = False,
    ) -> Entry:
        return self.memory.put(memory_key, value, content_type, ttl_ms / 1000, from_redis)

    def _forget(self, memory_key: str) -> None:
        self.memory.delete(memory_key)
