"""Per-process leases (no Redis): one token per key, taken over once it ran
out, and leases that ran out not kept for ever."""

from __future__ import annotations

import pytest

from service.cache import leases as leases_module
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


async def test_leases_that_ran_out_are_swept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(leases_module, "LOCAL_SWEEP_AT", 3)
    clock = FakeClock()
    leases = _leases(clock)
    for key in ("a", "b", "c"):
        assert isinstance(await leases.miss("ns", key, wait_ms=0), Granted)
    clock.advance(1.5)  # all three ran out
    assert isinstance(await leases.miss("ns", "d", wait_ms=0), Granted)
    assert list(leases._local) == ["ns:d"]
