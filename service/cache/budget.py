"""The byte budget of one batch answer (`_mget`, CACHE_BATCH_MAX_ANSWER_BYTES).

    takes(size) ─► fits what is left, or the answer is still empty ─► spent, True
               └─► otherwise ─► closed: this and every later value is unread

Values are added in the order the batch reads them (memory's hits, then
Redis's); the first one that does not fit ends the answer, so what a
client is told it did not read is exactly what a second call must ask for.
An empty answer takes its first value whatever its size: every call that
has a value to give gives at least one, so continuing always progresses.
"""

from __future__ import annotations


class AnswerBudget:
    __slots__ = ("closed", "empty", "left")

    def __init__(self, max_bytes: int) -> None:
        self.left = max_bytes
        self.empty = True
        self.closed = False

    def takes(self, size: int) -> bool:
        """Whether a value of `size` bytes joins the answer (spent if so)."""
        if self.closed:
            return False
        if size > self.left and not self.empty:
            self.closed = True
            return False
        self.spend(size)
        return True

    def spend(self, size: int) -> None:
        """Count a value already chosen (Redis chose it within `left`)."""
        self.left -= size
        if size:
            self.empty = False
