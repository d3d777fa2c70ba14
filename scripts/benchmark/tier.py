"""The benchmark's one import of the service: its memory tier, built as the service builds it.

The service's API used here, and nowhere else in scripts/:
    service.cache.memory.MemoryTier(capacity, max_bytes, ttl_cap_s, now)
        .get_by_name(name)  (what a memory-hit GET calls)
        .put(namespace, key, value, content_type, ttl_ms)
    service.clock.SystemClock (the real clock)
"""

from __future__ import annotations

import time
from collections.abc import Callable

from service.cache.memory import MemoryTier
from service.clock import SystemClock

CAPACITY = 1000
MAX_BYTES = 64 * 1024 * 1024
TTL_S = 600.0
VALUE = b"x" * 64
CONTENT_TYPE = "application/json"
NAMESPACE = "bench"


def _tier() -> MemoryTier:
    return MemoryTier(CAPACITY, MAX_BYTES, TTL_S, SystemClock().monotonic)


def timed(body: Callable[[], None]) -> float:
    """Seconds `body()` took (shared with memory.py's cachetools loops)."""
    started = time.perf_counter()
    body()
    return time.perf_counter() - started


def tier_get(keys: list[str], passes: int) -> float:
    tier = _tier()
    for key in keys:
        tier.put(NAMESPACE, key, VALUE, CONTENT_TYPE, int(TTL_S * 1000))
    names = [f"{NAMESPACE}:{key}" for key in keys]
    get = tier.get_by_name

    def body() -> None:
        for _ in range(passes):
            for name in names:
                get(name)

    return timed(body)


def tier_set(keys: list[str], passes: int) -> float:
    put = _tier().put
    ttl_ms = int(TTL_S * 1000)

    def body() -> None:
        for _ in range(passes):
            for key in keys:
                put(NAMESPACE, key, VALUE, CONTENT_TYPE, ttl_ms)

    return timed(body)
