"""Log lines for lifecycle events: a journal subscriber.

Redis trouble is expected weather for this service, not a fault in it, so
nothing here logs at ERROR. Errors are throttled (1st, 10th, 20th ... of a
streak, each saying how many were suppressed); losing the link logs one
WARNING that the memory cache is serving; giving up logs one WARNING per
streak (later failed probes only DEBUG); ``ready`` logs INFO and ends the
streak.

Each line also carries its facts as `extra=` fields (state, error_kind,
suppressed, ...), which a structured formatter (LOG_FORMAT=json) writes as
fields of their own; the text of the lines does not change.
"""

from __future__ import annotations

import logging

from statemachine.events import Connected, ErrorSeen, GaveUp, LinkEvent, OutboxReplayed
from statemachine.states import State
from statemachine.throttle import ErrorLogThrottle

__all__ = ["FALLBACK_MESSAGE", "REFUSED_WRITES", "LinkEventLogger"]

FALLBACK_MESSAGE = "Redis unavailable, serving from memory cache"
# One line per replay (with its count), never one per key.
REFUSED_WRITES = ("%d replayed writes refused for lack of memory (OOM: maxmemory under "
                  "noeviction) were deleted instead: those keys read as misses, never as "
                  "the values the writes replaced")

# Entering "error" from these means requests now go to the memory tier.
# "connecting" is included: a first connect that fails is a fallback too.
_FALLBACK_SOURCES = frozenset({State.READY, State.CONNECTING})


class LinkEventLogger:
    """Subscribe an instance to a Journal to log the link's story."""

    def __init__(self, logger: logging.Logger, throttle: ErrorLogThrottle) -> None:
        self.logger = logger
        self.throttle = throttle
        # A failed probe gives up again every probe interval; saying so each
        # time would be the log flood the throttle exists to prevent.
        self._gave_up_announced = False

    def __call__(self, event: LinkEvent) -> None:
        if isinstance(event, ErrorSeen):
            self._error(event)
        elif isinstance(event, Connected):
            self.throttle.reset()
            self._gave_up_announced = False
            self.logger.info(
                "Redis ready (%s -> %s)", event.source, event.dest,
                extra={"state": event.dest, "from_state": event.source},
            )
        elif isinstance(event, GaveUp) and not self._gave_up_announced:
            self._gave_up_announced = True
            self.logger.warning(
                "Redis still unavailable after %d failed attempts; probing every %.3g s",
                event.failed_attempts,
                event.probe_in_s,
                extra={
                    "state": event.dest,
                    "failed_attempts": event.failed_attempts,
                    "probe_in_s": event.probe_in_s,
                },
            )
        elif isinstance(event, OutboxReplayed) and (event.unconfirmed or event.refused):
            self._replayed(event)
        elif self.logger.isEnabledFor(logging.DEBUG):
            # Guarded: to_dict formats a timestamp, wasted when DEBUG is off.
            self.logger.debug(
                "Redis link %s: %s", type(event).__name__, event.to_dict(),
                extra={"state": event.dest, "event": type(event).__name__},
            )

    def _replayed(self, event: OutboxReplayed) -> None:
        if event.unconfirmed:
            self.logger.warning(
                "%d writes no replica had confirmed were replayed at the reconnect "
                "(a failover may have lost them: they read as misses, never as older values)",
                event.unconfirmed, extra={"state": event.dest, "unconfirmed": event.unconfirmed},
            )
        if event.refused:
            self.logger.warning(REFUSED_WRITES, event.refused,
                                extra={"state": event.dest, "refused": event.refused})

    def _error(self, event: ErrorSeen) -> None:
        suppressed = self.throttle.observe()
        if suppressed is not None:
            self.logger.warning(
                "Redis error [%s] in state %s: %s (%d similar suppressed)",
                event.kind.value,
                event.source,
                event.message,
                suppressed,
                extra={
                    "state": event.source,
                    "error_kind": event.kind.value,
                    "suppressed": suppressed,
                },
            )
        if event.dest == State.ERROR and event.source in _FALLBACK_SOURCES:
            self.logger.warning(FALLBACK_MESSAGE, extra={"state": event.dest})
