"""A two-tier cache without Redis behind it, holding unconfirmed writes in
`held`: for the pure tests of what is held and replayed (the Redis tier
only names keys; each test answers the commands itself)."""

from __future__ import annotations

from service.cache.memory import MemoryTier
from service.cache.outbox import Outbox
from service.cache.redis_tier import RedisTier
from service.cache.stats import CacheStats
from service.cache.two_tier import TwoTierCache
from service.cache.unconfirmed import Unconfirmed
from statemachine.clock import FakeClock


def held_cache(held: Unconfirmed) -> TwoTierCache:
    clock = FakeClock()
    memory = MemoryTier(100, 1 << 20, 600.0, clock.monotonic)
    redis = RedisTier(None, "p", 0, CacheStats(), clock.wall)  # type: ignore[arg-type]  # names only
    return TwoTierCache(memory, redis, {"ns": 60_000}, CacheStats(), Outbox(10),
                        wall=clock.wall, unconfirmed=held)
