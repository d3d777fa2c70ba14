"""Whether a value read from Redis may be kept when its reply lands.

    fill of k:   begin(k) ──── GET k in flight ──── end(k) → keep it?
    meanwhile:         changed(k)  (an invalidation, or this instance's own write)
                       changed_all()  (a flush, a reconnect)

Redis's client-side-caching documentation names the race: an invalidation
for a key can arrive while a GET for it is in flight, and the reply that
follows is older than the invalidation. Such a reply may still answer the
request that asked (the change was concurrent with it) but must not be kept
in memory as fresh. Every change bumps one epoch; a fill remembers the epoch
it began at and is kept only if neither its key nor everything changed
since. Only keys with a fill in flight are remembered, so this stays as
small as the number of requests in flight.
"""

from __future__ import annotations

from collections import deque
from itertools import filterfalse, repeat


class FillGuard:
    def __init__(self) -> None:
        self._epoch = 0
        self._all_changed_at = 0
        # Fills in flight per memory name, and the epoch of the last change
        # to a name while one was in flight.
        self._in_flight: dict[str, int] = {}
        self._changed_at: dict[str, int] = {}

    def begin(self, name: str) -> int:
        """A fill of `name` starts; the epoch to hand back to `end`."""
        self._in_flight[name] = self._in_flight.get(name, 0) + 1
        return self._epoch

    def end(self, name: str, began: int) -> bool:
        """The fill begun at `began` landed: True when it may be kept."""
        fresh = self._all_changed_at <= began and self._changed_at.get(name, 0) <= began
        remaining = self._in_flight[name] - 1
        if remaining:
            self._in_flight[name] = remaining
        else:
            del self._in_flight[name]
            self._changed_at.pop(name, None)
        return fresh

    def begin_many(self, names: list[str]) -> int:
        """`begin` of each name (a batch; no name twice): in C when none of
        them is in flight already, the usual case."""
        in_flight = self._in_flight
        new = dict.fromkeys(names, 1)
        if len(new) != len(names):
            raise ValueError("a batch's names repeat")
        if in_flight.keys().isdisjoint(new):
            in_flight.update(new)
        else:
            for name in names:
                in_flight[name] = in_flight.get(name, 0) + 1
        return self._epoch

    def end_many(self, names: list[str], began: int) -> list[str]:
        """`end` of each name (a batch begun at `began`): the names whose
        fill may NOT be kept. When nothing at all changed since `began`
        (the usual case) every fill may be, and it all runs in C."""
        in_flight = self._in_flight
        changed_at = self._changed_at
        overtaken = [] if self._epoch == began else [
            name for name in names
            if self._all_changed_at > began or changed_at.get(name, 0) > began]
        counts = list(map(in_flight.pop, names))
        if max(counts, default=1) > 1:  # another fill of a name still in flight
            for name, count in zip(names, counts, strict=True):
                if count > 1:
                    in_flight[name] = count - 1
        if changed_at:
            deque(map(changed_at.pop, filterfalse(in_flight.__contains__, names),
                      repeat(None)), maxlen=0)
        return overtaken

    def changed(self, name: str) -> None:
        self._epoch += 1
        if name in self._in_flight:
            self._changed_at[name] = self._epoch

    def changed_all(self) -> None:
        self._epoch += 1
        self._all_changed_at = self._epoch
