"""Bytes held by requests in progress, against a limit (CACHE_INFLIGHT_MAX_BYTES).

A plain counter shared by one process's routes that hold request or answer
bytes (service.http.held and service.http.bodies take and give back): batch
bodies and answers, single-key PUT bodies, and large GET answers while they
are written. One event loop, so no lock.

    take(n) ─► nothing held yet          ─► held (one request larger than the
                                             limit still passes, alone)
            ─► held + n within the limit ─► held
            ─► else                      ─► refused (the caller answers 503)

A request keeps what it took in a Hold, which gives it all back once
(release), whichever way the request ends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class ByteBudget:
    """Request and answer bytes the process holds, against a limit."""

    limit: int
    held: int = 0
    # Called for each take refused (a request answered 503 `overloaded`).
    refused: Callable[[], None] = lambda: None

    def take(self, size: int) -> bool:
        """Hold `size` more bytes if they fit. With nothing held anything
        fits, so a value larger than the limit is still served, alone; a
        request that declares nothing (size 0: a chunked body, read as it
        comes) needs a byte left."""
        held = self.held
        if held and held + max(size, 1) > self.limit:
            self.refused()
            return False
        self.held = held + size
        return True


class Hold:
    """One request's share of a ByteBudget: taken as its body is admitted or
    arrives, given back at once by `release` (any number of times)."""

    __slots__ = ("_budget", "size")

    def __init__(self, budget: ByteBudget) -> None:
        self._budget = budget
        self.size = 0

    def take(self, size: int) -> bool:
        """`size` more bytes for this request (ByteBudget.take's rule)."""
        if not self._budget.take(size):
            return False
        self.size += size
        return True

    def force(self, size: int) -> None:
        """`size` more bytes, whatever the limit (an answer already made)."""
        self._budget.held += size
        self.size += size

    def release(self) -> None:
        self._budget.held -= self.size
        self.size = 0
