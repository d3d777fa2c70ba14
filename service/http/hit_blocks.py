"""A memory hit's headers, built once per stored value and once per second of
its Age, not on every request.

    hit on an entry with a stamp ─► its block (by the PUT's version)?
        no, or another value's ─► build: the template's headers (content
            type, X-Cache, Cache-Status, Server, nosniff, CSP, an active
            type's Content-Disposition), ETag, Cache-Control: what never
            changes for this value
        Age's second passed since ─► the block's headers with the new Age
    ─► a copy of them (aiohttp adds to an answer's headers)

Why: building those headers per request (a template copied, three more
formatted and added) cost several thousand instructions of a memory hit;
a look-up, a comparison and one copy replace them. The headers are exactly
what `cache_api.hit_headers` and `freshness.add_freshness` give: the block
is built by them. Answers given while Redis is degraded, and entries
without a stamp, do not come here.

Bounded: at most MAX_BLOCKS values' blocks are kept, all dropped at once
when full (the next hits rebuild theirs), like the header templates.
"""

from __future__ import annotations

from collections.abc import Callable

from multidict import CIMultiDict

from service.cache.codec import Stamp
from service.http.freshness import AGE

MAX_BLOCKS = 4096
# The headers without Age, with Age, the ages [from, until) in seconds for
# which that Age stands, the wall-clock second of the PUT, and the stamp
# and content type they were built for.
Block = list
_FIXED, _AGED, _FROM, _UNTIL, _STORED, _STAMP, _TYPE = range(7)
NEVER = float("inf")


class HitBlocks:
    """One service's blocks; `build(content_type, stamp)` gives a hit's
    headers without Age (hit_headers and add_freshness's other headers)."""

    def __init__(self, build: Callable[[str, Stamp], CIMultiDict[str]]) -> None:
        self._build = build
        self._blocks: dict[str, Block] = {}

    def headers(self, content_type: str, stamp: Stamp, now_s: float) -> CIMultiDict[str]:
        """A fresh copy of the hit's headers at wall-clock `now_s`."""
        block = self._blocks.get(stamp.version)
        if block is None or block[_STAMP] is not stamp or block[_TYPE] != content_type:
            block = self._new(content_type, stamp)
        # Ages, not instants, are compared: now - stored is exact in floats
        # (Sterbenz), so the Age is the one add_freshness would give.
        if not block[_FROM] <= now_s - block[_STORED] < block[_UNTIL]:
            _age(block, now_s)
        aged: CIMultiDict[str] = block[_AGED]
        return aged.copy()

    def _new(self, content_type: str, stamp: Stamp) -> Block:
        if len(self._blocks) >= MAX_BLOCKS:
            self._blocks.clear()
        # An empty range: the first answer sets its Age.
        stored_at, expires_at = stamp.stored_at_ms, stamp.expires_at_ms
        stored_s = stored_at / 1000 if stored_at is not None and expires_at is not None else NEVER
        block = [self._build(content_type, stamp), None, 0.0, 0.0, stored_s, stamp, content_type]
        self._blocks[stamp.version] = block
        return block


def _age(block: Block, now_s: float) -> None:
    """The block's Age at `now_s` and the ages it stands for: whole seconds
    since the PUT, 0 for a clock that stepped back (as add_freshness); a
    value without times has no Age, ever."""
    aged = block[_FIXED].copy()
    stored_s = block[_STORED]
    if stored_s == NEVER:
        block[_FROM], block[_UNTIL], block[_STORED] = -NEVER, NEVER, 0.0
    else:
        age = now_s - stored_s
        whole = int(age) if age > 0 else 0
        aged.add(AGE, str(whole))
        # int() rounds toward zero: every age below 1 s is an Age of 0.
        block[_FROM] = whole if whole > 0 else -NEVER
        block[_UNTIL] = whole + 1
    block[_AGED] = aged
