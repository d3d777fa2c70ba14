"""The memory tier: LRU order, both bounds, deadlines, with a fake clock."""

from __future__ import annotations

import os
import tracemalloc

import pytest

from service.cache.codec import new_stamp
from service.cache.entry import Entry
from service.cache.memory import MemoryTier, entry_size
from statemachine.clock import FakeClock

MIB = 1 << 20


def _tier(
    capacity: int = 3, cap_s: float = 60.0, max_bytes: int = 64 * MIB
) -> tuple[MemoryTier, FakeClock]:
    clock = FakeClock()
    return MemoryTier(capacity, max_bytes, cap_s, clock.monotonic), clock


def _put(tier: MemoryTier, key: str, value: bytes = b"v", ttl_ms: int = 10_000) -> bool:
    return tier.put("ns", key, value, "text/plain", ttl_ms)


def _value(tier: MemoryTier, key: str) -> bytes | None:
    entry = tier.get("ns", key)
    return None if entry is None else entry.value


def test_get_returns_what_put_stored() -> None:
    tier, _ = _tier()
    assert _put(tier, "a", b"1") is True
    assert _value(tier, "a") == b"1"
    assert tier.get("ns", "b") is None
    assert tier.get_by_name("ns:a") is tier.get("ns", "a")


def test_evicts_least_recently_used_beyond_capacity() -> None:
    tier, _ = _tier(capacity=2)
    _put(tier, "a")
    _put(tier, "b")
    assert _value(tier, "a") is not None  # a is now most recent
    _put(tier, "c")
    assert _value(tier, "b") is None
    assert _value(tier, "a") is not None and _value(tier, "c") is not None
    assert (len(tier), tier.evictions) == (2, 1)


def test_overwrite_refreshes_recency_without_growing() -> None:
    tier, _ = _tier(capacity=2)
    _put(tier, "a", b"a")
    _put(tier, "b", b"b")
    _put(tier, "a", b"a2")
    _put(tier, "c", b"c")
    assert _value(tier, "b") is None
    assert _value(tier, "a") == b"a2"
    assert tier.bytes_used == entry_size("ns:a", b"a2", "text/plain") + entry_size(
        "ns:c", b"c", "text/plain"
    )


def test_expired_entries_are_never_served() -> None:
    tier, clock = _tier()
    _put(tier, "a", ttl_ms=5000)
    clock.advance(4.999)
    assert _value(tier, "a") is not None
    clock.advance(0.001)
    assert _value(tier, "a") is None
    assert (len(tier), tier.expirations, tier.bytes_used) == (0, 1, 0)


def test_ttl_is_capped_by_the_tier_cap() -> None:
    tier, clock = _tier(cap_s=2.0)
    _put(tier, "a", ttl_ms=3_600_000)
    clock.advance(2.0)
    assert _value(tier, "a") is None


def test_capacity_zero_disables_the_tier() -> None:
    tier, _ = _tier(capacity=0)
    assert _put(tier, "a") is False
    assert _value(tier, "a") is None and len(tier) == 0


def test_delete_and_clear() -> None:
    tier, _ = _tier()
    _put(tier, "a")
    _put(tier, "b")
    assert tier.delete("ns", "a") is True
    assert _value(tier, "a") is None and len(tier) == 1
    tier.clear()
    assert (len(tier), tier.bytes_used) == (0, 0)


def test_the_stored_entry_carries_its_deadline_origin_and_size() -> None:
    tier, clock = _tier(cap_s=60.0)
    clock.advance(100.0)
    tier.put("ns", "a", b"a", "text/plain", 5000, from_redis=True)
    tier.put("ns", "b", b"b", "application/json", 3_600_000)
    assert tier.get("ns", "a") == Entry(
        b"a", "text/plain", 105.0, True, entry_size("ns:a", b"a", "text/plain")
    )
    assert tier.get("ns", "b") == Entry(
        b"b", "application/json", 160.0, False, entry_size("ns:b", b"b", "application/json")
    )


def test_a_changed_capacity_is_the_limit_from_then_on() -> None:
    tier, _ = _tier(capacity=10)
    for key in "abcde":
        _put(tier, key)
    tier.capacity = 3
    _put(tier, "f")
    assert len(tier) == 3
    tier.resize(capacity=2, max_bytes=tier.max_bytes)
    assert len(tier) == 2 and _value(tier, "f") is not None


def test_evicts_least_recently_used_until_the_byte_budget_holds() -> None:
    value = b"x" * 1000
    size = entry_size("ns:a", value, "text/plain")
    tier, _ = _tier(capacity=1000, max_bytes=size * 16)
    for key in "abcdefghijklmnopqrst":  # 20 one-letter keys: each entry is `size`
        assert _put(tier, key, value)
    assert tier.bytes_used <= tier.max_bytes
    assert len(tier) == 16 and tier.evictions == 4


def test_a_value_over_a_sixteenth_of_the_budget_is_not_kept_and_changes_nothing() -> None:
    tier, _ = _tier(capacity=100, max_bytes=16 * 1024)
    assert _put(tier, "big", b"small") is True
    used = tier.bytes_used
    assert _put(tier, "big", b"x" * 1024) is False
    # The caller (the two-tier cache) decides about the older copy.
    assert _value(tier, "big") == b"small" and tier.bytes_used == used


def test_ten_thousand_large_puts_stay_within_the_byte_budget() -> None:
    # The defect: 1,000 PUTs of 1 MiB took the process to 1 GiB. Scaled down.
    tier, _ = _tier(capacity=1000, max_bytes=4 * MIB)
    value = os.urandom(200 * 1024)
    for i in range(10_000):
        _put(tier, str(i), value)
    assert tier.bytes_used <= 4 * MIB and len(tier) == 4 * MIB // entry_size("ns:9999", value, "text/plain")


@pytest.mark.parametrize("body", [10, 100, 4096])
def test_the_size_estimate_matches_what_an_entry_really_allocates(body: int) -> None:
    tier, clock = _tier(capacity=100_000, max_bytes=1 << 40)
    n = 5000
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            # Key, value and stamp are built here, as a request would build them.
            stamp = new_stamp(clock.wall(), 10_000)
            tier.put("ns", f"key-{i:06d}", os.urandom(body), "text/plain", 10_000, stamp=stamp)
        allocated = (tracemalloc.get_traced_memory()[0] - before) / n
    finally:
        tracemalloc.stop()
    estimated = tier.bytes_used / n
    assert 0.8 * allocated <= estimated <= 1.25 * allocated, (estimated, allocated)


def test_a_batch_look_up_answers_as_get_does_for_each_key() -> None:
    tier, clock = _tier(capacity=4)
    for key in "abcd":
        ttl_ms = 1_000 if key == "c" else 10_000
        tier.put("ns", key, key.encode() * 3, "text/plain", ttl_ms, stamp=new_stamp(0.0, ttl_ms))
    tier.put("ns", "t", b"tagged", "text/plain", 10_000, stamp=new_stamp(0.0, 10_000, (("x", 1),)))
    clock.advance(2.0)  # c expired; t evicted a
    found = tier.get_many("ns", ["d", "c", "zz", "b", "a"])
    assert list(found.hits) == ["d", "b"] and found.missed == ["c", "zz", "a"]
    assert found.hits["d"] is tier.get("ns", "d")
    assert (found.size, found.tagged, tier.expirations, "ns:c" in tier) == (6, False, 1, False)
    _put(tier, "e")
    _put(tier, "f")  # b and d were made more recent than t: t goes first
    assert "ns:t" not in tier and tier.get_many("ns", ["b", "d"]).missed == []


def test_a_batch_look_up_tells_when_an_entry_carries_tags() -> None:
    tier, _ = _tier()
    tier.put("ns", "t", b"v", "text/plain", 10_000, stamp=new_stamp(0.0, 10_000, (("x", 1),)))
    _put(tier, "plain")
    assert tier.get_many("ns", ["plain", "t"]).tagged is True
    assert tier.get_many("ns", ["plain"]).tagged is True  # no stamp: the caller looks


def test_a_batch_look_up_in_an_empty_tier_misses_every_key() -> None:
    tier, _ = _tier(capacity=0)
    assert tier.get_many("ns", ["a", "b"]) == ({}, ["a", "b"], 0, False)
