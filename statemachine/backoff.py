"""The reconnect backoff policy: it computes delays and never sleeps.

The driver asks the policy how long to wait before the next attempt and
whether to give up; the driver (through the injected clock) does the waiting.
Defaults give 1, 2, 4, 8, 10, 10 ... seconds and give up after ten failed
attempts, then probe every ``probe_interval_s``.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BackoffPolicy"]


@dataclass(frozen=True)
class BackoffPolicy:
    """Capped exponential backoff with an attempt limit and a probe period."""

    base_s: float = 1.0
    factor: float = 2.0
    cap_s: float = 10.0
    max_attempts: int = 10
    probe_interval_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("base_s", "cap_s", "probe_interval_s"):
            value = getattr(self, name)
            # "not value > 0" also rejects NaN.
            if not value > 0:
                raise ValueError(f"{name} must be positive, got {value!r}")
        if not self.factor >= 1:
            raise ValueError(f"factor must be >= 1, got {self.factor!r}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts!r}")

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait before reconnect attempt ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempts are numbered from 1, got {attempt}")
        try:
            delay = self.base_s * self.factor ** (attempt - 1)
        except OverflowError:
            # A long outage counts attempts past any float; the cap holds.
            return self.cap_s
        return min(delay, self.cap_s)

    def exhausted(self, failed_attempts: int) -> bool:
        """True once ``failed_attempts`` consecutive attempts have failed."""
        return failed_attempts >= self.max_attempts
