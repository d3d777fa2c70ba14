"""Injected time for the connection lifecycle.

Nothing in ``statemachine`` reads the system clock or sleeps on its own: the
driver hands in a ``Clock``. Production passes a real clock (it lives in
``service/``); tests pass ``FakeClock``, which jumps instead of waiting, so ten
minutes of backoff take microseconds.
"""

from __future__ import annotations

import types
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "iso_utc"]


@runtime_checkable
class Clock(Protocol):
    """Where the lifecycle gets its time and its driver its sleeps."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals)."""
        ...

    def wall(self) -> float:
        """Epoch seconds (for timestamps shown to people)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; the only way the driver waits out a backoff."""
        ...


@types.coroutine
def _yield_to_loop() -> Generator[None, None, None]:
    # A bare yield is how asyncio hands control back to the loop for one
    # turn. FakeClock.sleep does this so a driver task that loops on it
    # cannot starve the other tasks of a test, yet it never really waits.
    yield


class FakeClock:
    """A clock that moves only when told to; ``sleep`` jumps at once."""

    def __init__(self, monotonic: float = 0.0, wall: float = 1_800_000_000.0) -> None:
        self._monotonic = float(monotonic)
        self._wall = float(wall)
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._monotonic

    def wall(self) -> float:
        return self._wall

    def advance(self, seconds: float) -> None:
        """Move both clocks forward; time never runs backwards."""
        if seconds < 0:
            raise ValueError(f"cannot advance a clock by {seconds} s")
        self._monotonic += seconds
        self._wall += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the request, jump the clocks, yield once to the loop."""
        self.sleeps.append(seconds)
        # Like asyncio.sleep, a negative delay means "do not wait".
        self.advance(max(0.0, seconds))
        await _yield_to_loop()


def iso_utc(wall: float) -> str:
    """Format epoch seconds as ISO-8601 UTC with milliseconds and a 'Z'."""
    moment = datetime.fromtimestamp(wall, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
