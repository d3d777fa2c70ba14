"""The guide's string formats, from projections and counters."""

from __future__ import annotations

from service.cache.memory import MemoryTier
from service.cache.stats import CacheStats
from service.cache.two_tier import TwoTierCache
from service.http.figures import percent
from service.http.health_report import detailed_report
from service.link.probe import ProbeResult, expiring_keys, parse_info
from statemachine.clock import FakeClock
from statemachine.projections import LinkView


def test_percent_has_two_decimals() -> None:
    assert percent(245, 1000) == "24.50"
    # The guide shows "81.65%" for these counts; 1523 / 1865 is 81.662...%.
    assert percent(1523, 1523 + 342) == "81.66"
    assert percent(0, 0) == "0.00"
    assert percent(1, 1) == "100.00"


def test_report_from_a_view_and_counters() -> None:
    clock = FakeClock()
    cache = TwoTierCache(MemoryTier(1000, 1 << 20, 60, clock.monotonic), None, {"default": 1},
                         CacheStats(), wall=clock.wall)
    cache.stats.memory_hits, cache.stats.redis_hits, cache.stats.misses = 1000, 523, 342
    view = LinkView(
        state="reconnecting",
        reconnect_attempts=3,
        last_error="Connection refused",
        last_error_time=1_800_000_000.5,
        errors_total=4,
        reconnects_total=2,
    )
    report = detailed_report(cache, view, "reconnecting", True, None)
    assert report["status"] == "degraded"
    redis = report["checks"]["redis"]
    assert redis["status"] == "unhealthy"
    assert redis["connectionStatus"] == "reconnecting"
    assert redis["reconnectAttempts"] == 3
    assert redis["lastErrorTime"] == "2027-01-15T08:00:00.500Z"
    assert redis["responseTime"] is None
    stats = report["checks"]["cache"]["redis"]
    assert (stats["hits"], stats["misses"], stats["hitRate"]) == (1523, 342, "81.66%")
    assert (stats["errors"], stats["reconnects"]) == (4, 2)


def test_healthy_needs_ready_and_a_probe() -> None:
    clock = FakeClock()
    cache = TwoTierCache(MemoryTier(10, 1 << 20, 60, clock.monotonic), None, {"default": 1},
                         CacheStats(), wall=clock.wall)
    probe = ProbeResult(0.0049, 2_621_440, "2.50M", 0)
    report = detailed_report(cache, LinkView(state="ready"), "ready", True, probe)
    assert report["status"] == "healthy"
    assert report["checks"]["redis"]["responseTime"] == "5ms"
    assert report["checks"]["redis"]["memoryUsed"] == "2.50M"


def test_parse_info() -> None:
    raw = b"# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\nmaxmemory:0\r\n"
    assert parse_info(raw) == {"used_memory": "1024", "used_memory_human": "1.00K", "maxmemory": "0"}


def test_expiring_keys_sums_the_databases() -> None:
    raw = b"# Keyspace\r\ndb0:keys=3,expires=2,avg_ttl=10\r\ndb2:keys=1,expires=1,avg_ttl=0\r\n"
    assert expiring_keys(raw) == 3
    assert expiring_keys(b"# Keyspace\r\n") == 0  # an empty server: no db lines
    assert expiring_keys(None) is None  # INFO refused
