"""FakeClock and iso_utc: time that jumps, and how times are shown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from statemachine import Clock, FakeClock, iso_utc


def test_fake_clock_satisfies_the_protocol() -> None:
    assert isinstance(FakeClock(), Clock)


def test_defaults_and_advance() -> None:
    clock = FakeClock()
    assert (clock.monotonic(), clock.wall()) == (0.0, 1_800_000_000.0)
    clock.advance(2.5)
    assert (clock.monotonic(), clock.wall()) == (2.5, 1_800_000_002.5)
    with pytest.raises(ValueError, match="advance"):
        clock.advance(-1)
    assert clock.monotonic() == 2.5


async def test_sleep_jumps_and_records() -> None:
    clock = FakeClock(monotonic=10.0, wall=100.0)
    await clock.sleep(600.0)
    await clock.sleep(0.25)
    await clock.sleep(-3.0)  # like asyncio.sleep: no wait, time does not go back
    assert clock.sleeps == [600.0, 0.25, -3.0]
    assert (clock.monotonic(), clock.wall()) == (610.25, 700.25)


async def test_sleep_yields_to_other_tasks() -> None:
    clock = FakeClock()
    order: list[str] = []

    async def sleeper() -> None:
        for n in range(3):
            await clock.sleep(1.0)
            order.append(f"slept {n}")

    async def other() -> None:
        order.append("other ran")

    await asyncio.gather(sleeper(), other())
    # The other task ran during the first sleep: a looping driver cannot
    # starve the loop, although no real time passed.
    assert order == ["other ran", "slept 0", "slept 1", "slept 2"]


def test_iso_utc_has_milliseconds_and_z() -> None:
    moment = datetime(2026, 11, 26, 4, 29, 5, 123000, tzinfo=UTC)
    assert iso_utc(moment.timestamp()) == "2026-11-26T04:29:05.123Z"
    assert iso_utc(0.0) == "1970-01-01T00:00:00.000Z"
