"""The real clock: the one place in the service that reads time and sleeps.

`statemachine/` and the cache tiers take a `Clock`; tests hand them
`statemachine.clock.FakeClock` instead, so backoff never really sleeps there.
"""

from __future__ import annotations

import asyncio
import time


class SystemClock:
    """Monotonic time for durations, wall time for display, asyncio for waits."""

    # The C functions themselves: the memory tier reads the clock on every hit.
    monotonic = staticmethod(time.monotonic)
    wall = staticmethod(time.time)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
