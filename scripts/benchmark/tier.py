"""The benchmark's one import of the service: its memory tier, built as the service builds it.

The service's API used here, and nowhere else in scripts/:
    service.cache.memory.MemoryTier(capacity, ttl_cap_s, now) -> .get(key), .put(key, value,
        content_type, ttl_s)
    service.app.monotonic_reader(clock) and service.clock.SystemClock (the real clock reader)
Older checkouts (--service-root) had no monotonic_reader (the tier took
SystemClock().monotonic) and a put that took service.cache.entry.Entry built with
tier.deadline(ttl_s); both are still handled so a before/after run works.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import service.app
from service.cache.entry import Entry
from service.cache.memory import MemoryTier
from service.clock import SystemClock

CAPACITY = 1000
TTL_S = 600.0
VALUE = b"x" * 64
CONTENT_TYPE = "application/json"


def _service_clock() -> Callable[[], float]:
    # Older checkouts (--service-root) handed the tier SystemClock().monotonic.
    reader = getattr(service.app, "monotonic_reader", None)
    return reader(SystemClock()) if reader is not None else SystemClock().monotonic


def timed(body: Callable[[], None]) -> float:
    """Seconds `body()` took (shared with memory.py's cachetools loops)."""
    started = time.perf_counter()
    body()
    return time.perf_counter() - started


def tier_get(keys: list[str], passes: int) -> float:
    tier: Any = MemoryTier(CAPACITY, TTL_S, _service_clock())  # Any: older APIs too
    for key in keys:
        if hasattr(tier, "deadline"):  # older checkouts (--service-root)
            tier.put(key, Entry(VALUE, CONTENT_TYPE, tier.deadline(TTL_S)))
        else:
            tier.put(key, VALUE, CONTENT_TYPE, TTL_S)
    get = tier.get

    def body() -> None:
        for _ in range(passes):
            for key in keys:
                get(key)

    return timed(body)


def tier_set(keys: list[str], passes: int) -> float:
    tier = MemoryTier(CAPACITY, TTL_S, _service_clock())
    if hasattr(tier, "deadline"):
        return _tier_set_entries(tier, keys, passes)
    put = tier.put

    def body() -> None:
        for _ in range(passes):
            for key in keys:
                put(key, VALUE, CONTENT_TYPE, TTL_S)

    return timed(body)


def _tier_set_entries(tier: Any, keys: list[str], passes: int) -> float:
    # Older checkouts (--service-root): the writer built the Entry and its deadline.
    put, deadline = tier.put, tier.deadline

    def body() -> None:
        for _ in range(passes):
            for key in keys:
                put(key, Entry(VALUE, CONTENT_TYPE, deadline(TTL_S)))

    return timed(body)
