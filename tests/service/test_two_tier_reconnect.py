"""What the cache forgets when a link reconnects: everything after a single
link's outage, one master's keys after a cluster master's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.cache.memory import MemoryTier
from service.cache.outbox import Outbox
from service.cache.redis_tier import RedisTier
from service.cache.stats import CacheStats
from service.cache.two_tier import TwoTierCache
from statemachine.clock import FakeClock


async def _send(commands: Sequence[Sequence[Any]]) -> list[Any]:
    return [1 for _ in commands]


def _cache() -> TwoTierCache:
    clock = FakeClock()
    memory = MemoryTier(100, 1 << 20, 600.0, clock.monotonic)
    redis = RedisTier(None, "rr", 0, CacheStats(), clock.wall)  # type: ignore[arg-type]  # names only
    cache = TwoTierCache(
        memory, redis, {"a": 60_000, "b": 60_000}, CacheStats(), Outbox(10), wall=clock.wall
    )
    for name in ("a", "b"):
        memory.put(name, "k", b"v", "text/plain", 60_000, from_redis=True)
    return cache


async def test_a_reconnect_forgets_every_entry() -> None:
    cache = _cache()
    await cache.reconnected(_send, first_connect=False)
    assert len(cache.memory) == 0 and cache.stats.forgotten_at_reconnect == 2


async def test_a_cluster_master_reconnecting_forgets_only_its_keys() -> None:
    cache = _cache()
    await cache.reconnected(_send, first_connect=False, owns=lambda key: key == "rr:a:k")
    assert cache.memory.get("a", "k") is None
    assert cache.memory.get("b", "k") is not None
    assert cache.stats.forgotten_at_reconnect == 1


async def test_the_first_connect_forgets_nothing() -> None:
    cache = _cache()
    await cache.reconnected(_send, first_connect=True, owns=lambda key: True)
    assert len(cache.memory) == 2
