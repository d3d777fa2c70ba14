"""Polling without fixed sleeps, outside an event loop: the one helper the
harness, the tests, the benchmark and the soak wait with."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], bool], timeout: float = 10.0,
             what: str = "condition", *, every: float = 0.02,
             error: type[Exception] = AssertionError) -> None:
    """Poll `condition()` until true; raise `error` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise error(f"timed out waiting for {what} ({timeout:g} s)")
        time.sleep(every)
