"""Per-process leases (no Redis): one token per key, taken over once it ran
out, and leases that ran out not kept for ever."""

from __future__ import annotations

from service.cache.leases import Granted, Leases, Pending
from service.cache.memory import MemoryTier
from service.cache.stats import CacheStats, LeaseStats
from service.cache.two_tier import TwoTierCache
from statemachine.clock import FakeClock


def _leases(clock: FakeClock) -> Leases:
    memory = MemoryTier(100, 1 << 20, 600.0, clock.monotonic)
    cache = TwoTierCache(memory, None, {"ns": 60_000}, CacheStats(), wall=clock.wall)
    return Leases(cache, link=None, duration_ms=1000, clock=clock,  # type: ignore[arg-type]
                  stats=LeaseStats())


async def test_one_token_per_key_until_it_runs_out() -> None:
    clock = FakeClock()
    leases = _leases(clock)
    first = await leases.miss("ns", "k", wait_ms=0)
    assert isinstance(first, Granted) and first.token.startswith("m")
    assert isinstance(await leases.miss("ns", "k", wait_ms=0), Pending)
    clock.advance(1.5)
    again = await leases.miss("ns", "k", wait_ms=0)
    assert isinstance(again, Granted) and again.token != first.token


async def test_leases_that_ran_out_are_dropped_oldest_first() -> None:
    """Kept in order of their end: a new lease drops those that ran out from
    the front and stops at the first that has not (amortized constant time,
    where a sweep past 10,000 leases once walked them all on every lease)."""
    clock = FakeClock()
    leases = _leases(clock)
    for key in ("a", "b", "c"):
        assert isinstance(await leases.miss("ns", key, wait_ms=0), Granted)
        clock.advance(0.3)
    clock.advance(0.2)
    # a was taken at 0.0, b at 0.3, c at 0.6; now is 1.1: only a ran out.
    assert isinstance(await leases.miss("ns", "d", wait_ms=0), Granted)
    assert list(leases._local) == ["ns:b", "ns:c", "ns:d"]
    clock.advance(0.3)  # 1.4: b ran out; retaking c's key waits, the order holds
    assert isinstance(await leases.miss("ns", "c", wait_ms=0), Pending)
    assert isinstance(await leases.miss("ns", "e", wait_ms=0), Granted)
    assert list(leases._local) == ["ns:c", "ns:d", "ns:e"]
    clock.advance(5)
    assert isinstance(await leases.miss("ns", "c", wait_ms=0), Granted)  # taken over
    assert list(leases._local) == ["ns:c"]


async def test_many_leases_cost_one_look_each() -> None:
    """20,000 leases, each new one taken after the previous ran out: the
    dict never holds more than the live ones."""
    clock = FakeClock()
    leases = _leases(clock)
    largest = 0
    for n in range(20_000):
        assert isinstance(await leases.miss("ns", f"k{n}", wait_ms=0), Granted)
        largest = max(largest, len(leases._local))
        clock.advance(0.6)  # leases last 1 s: at most two are live at once
    assert largest == 2
