"""The memory tier: LRU order, capacity, deadlines, with a fake clock."""

from __future__ import annotations

from service.cache.entry import Entry
from service.cache.memory import MemoryTier
from statemachine.clock import FakeClock


def _tier(capacity: int = 3, cap_s: float = 60.0) -> tuple[MemoryTier, FakeClock]:
    clock = FakeClock()
    return MemoryTier(capacity, cap_s, clock.monotonic), clock


def test_get_returns_what_put_stored() -> None:
    tier, _ = _tier()
    tier.put("a", b"1", "text/plain", 10.0)
    found = tier.get("a")
    assert found is not None and found.value == b"1"
    assert tier.get("b") is None


def test_evicts_least_recently_used_beyond_capacity() -> None:
    tier, _ = _tier(capacity=2)
    tier.put("a", b"a", "text/plain", 10.0)
    tier.put("b", b"b", "text/plain", 10.0)
    assert tier.get("a") is not None  # a is now most recent
    tier.put("c", b"c", "text/plain", 10.0)
    assert tier.get("b") is None
    assert tier.get("a") is not None and tier.get("c") is not None
    assert (len(tier), tier.evictions) == (2, 1)


def test_overwrite_refreshes_recency_without_growing() -> None:
    tier, _ = _tier(capacity=2)
    tier.put("a", b"a", "text/plain", 10.0)
    tier.put("b", b"b", "text/plain", 10.0)
    tier.put("a", b"a2", "text/plain", 10.0)
    tier.put("c", b"c", "text/plain", 10.0)
    assert tier.get("b") is None
    found = tier.get("a")
    assert found is not None and found.value == b"a2"


def test_expired_entries_are_never_served() -> None:
    tier, clock = _tier()
    tier.put("a", b"a", "text/plain", 5)
    clock.advance(4.999)
    assert tier.get("a") is not None
    clock.advance(0.001)
    assert tier.get("a") is None
    assert (len(tier), tier.expirations) == (0, 1)


def test_ttl_is_capped_by_the_tier_cap() -> None:
    tier, clock = _tier(cap_s=2.0)
    tier.put("a", b"a", "text/plain", 3600)
    clock.advance(2.0)
    assert tier.get("a") is None


def test_capacity_zero_disables_the_tier() -> None:
    tier, _ = _tier(capacity=0)
    tier.put("a", b"a", "text/plain", 10.0)
    assert tier.get("a") is None and len(tier) == 0


def test_delete_and_clear() -> None:
    tier, _ = _tier()
    tier.put("a", b"a", "text/plain", 10.0)
    tier.put("b", b"b", "text/plain", 10.0)
    assert tier.delete("a") is True
    assert tier.delete("a") is False
    tier.clear()
    assert len(tier) == 0


def test_put_returns_the_entry_it_stored_with_its_deadline() -> None:
    tier, clock = _tier(cap_s=60.0)
    clock.advance(100.0)
    short = tier.put("a", b"a", "text/plain", 5.0, from_redis=True)
    capped = tier.put("b", b"b", "application/json", 3600.0)
    assert short == Entry(b"a", "text/plain", 105.0, from_redis=True)
    assert capped == Entry(b"b", "application/json", 160.0)
    assert tier.get("a") is short and tier.get("b") is capped


def test_capacity_zero_still_returns_the_entry_for_the_caller() -> None:
    tier, _ = _tier(capacity=0)
    entry = tier.put("a", b"a", "text/plain", 1.0)
    assert entry.value == b"a" and len(tier) == 0 and tier.evictions == 0
