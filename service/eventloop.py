"""Which event loop the service runs on (EVENT_LOOP): uvloop or asyncio's own.

uvloop (libuv underneath, Cython on top) answered 1.13x the memory-hit and
1.07x the Redis-hit requests per second of the same code on asyncio's loop,
side by side on the development machine (docs/performance.md), so it is the
default wherever it is installed; setup.cfg installs it everywhere but Windows, which it does not
support. Where it cannot be imported the service logs one WARNING and runs
on asyncio's loop rather than refusing to start: a slower cache is better
than none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger("roleready.server")

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_in_use(wanted: str) -> str:
    """`wanted` ("uvloop" or "asyncio"), or "asyncio" when uvloop is missing."""
    if wanted != "uvloop":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        log.warning("EVENT_LOOP=uvloop but uvloop is not installed: using asyncio's loop")
        return "asyncio"
    return "uvloop"


def loop_factory(wanted: str) -> LoopFactory:
    """A factory for `asyncio.Runner(loop_factory=...)`."""
    if loop_in_use(wanted) == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return asyncio.new_event_loop


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """"uvloop" or "asyncio": what a running loop is, for logs and /api/status."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
