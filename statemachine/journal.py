"""The bounded, append-only log of lifecycle events, with subscribers.

The journal keeps the last ``capacity`` events. Events that fall off the
front are folded into ``baseline``, so ``replay(journal.events(),
start=journal.baseline)`` always equals the live view, however long the
service has run. Subscribers (the event logger, metrics) are called for each
appended event; one that raises is logged and skipped, never allowed to
break recording.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from statemachine.events import LinkEvent
from statemachine.projections import LinkView, evolve

__all__ = ["Journal", "Subscriber"]

Subscriber = Callable[[LinkEvent], None]

_logger = logging.getLogger(__name__)


class Journal:
    """Keeps the newest ``capacity`` events and counts the ones dropped."""

    def __init__(self, capacity: int = 1000) -> None:
        if capacity < 1:
            raise ValueError(f"journal capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self._events: deque[LinkEvent] = deque()
        self._subscribers: list[Subscriber] = []
        self._dropped = 0
        self._baseline = LinkView()

    @property
    def dropped(self) -> int:
        """How many events fell off the front since the journal was made."""
        return self._dropped

    @property
    def baseline(self) -> LinkView:
        """The view folded from the dropped events (the replay start)."""
        return self._baseline

    def __len__(self) -> int:
        return len(self._events)

    def append(self, event: LinkEvent) -> None:
        """Record ``event``, then tell every subscriber about it."""
        if len(self._events) == self.capacity:
            oldest = self._events.popleft()
            self._baseline = evolve(self._baseline, oldest)
            self._dropped += 1
        self._events.append(event)
        # Iterate over a copy: a subscriber may unsubscribe itself.
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                _logger.exception(
                    "journal subscriber %r failed on %s",
                    subscriber,
                    type(event).__name__,
                )

    def events(self, limit: int | None = None) -> list[LinkEvent]:
        """The kept events, oldest first; only the newest ``limit`` if given."""
        if limit is None:
            return list(self._events)
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if limit == 0:
            return []
        return list(self._events)[-limit:]

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback`` for each new event; returns the unsubscriber."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            # Idempotent, so cleanup code may call it unconditionally.
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe
