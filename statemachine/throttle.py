"""Throttling of repeated error logs during one outage.

A Redis that stays down produces an error per attempt and per command; logging
each would bury everything else. Within a streak the 1st, then every
``every``-th error (10th, 20th, ...) is logged, each saying how many were
suppressed since the previous logged one. The streak ends on ``reset()``
(the lifecycle's logger calls it when the link is ready again).
"""

from __future__ import annotations

__all__ = ["ErrorLogThrottle"]


class ErrorLogThrottle:
    """Decides which errors of a streak get a log line."""

    def __init__(self, every: int = 10) -> None:
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        self.every = every
        self.streak = 0
        self._last_logged = 0

    def observe(self) -> int | None:
        """Count one error; None if it stays silent, else how many were suppressed."""
        self.streak += 1
        if self.streak != 1 and self.streak % self.every != 0:
            return None
        suppressed = self.streak - self._last_logged - 1
        self._last_logged = self.streak
        return suppressed

    def reset(self) -> None:
        """End the streak: the next error is a 1st again."""
        self.streak = 0
        self._last_logged = 0
