"""The fleet's promise, checked on a recorded history of cache operations.

    every operation (instance, GET/PUT/DELETE, key, value, status, start, end)
      + the windows in which each instance's link was `ready`
      ─► check_history ─► violations (an empty list: the run kept its promise)

The promise (docs/consistency.md, the guarantee): once every instance's link has been ready
for N ms, a hit through any instance returns the value of the latest PUT
acknowledged before the GET began, or of one concurrent with it, and never
a value that a later acknowledged PUT or DELETE replaced. A miss is always
allowed; while a link is not ready an instance may return the last value it
held. The rules, in the order they are checked:

- a 5xx, a transport error (refused, reset, timeout) or any other status the
  API never gives for that method is a violation, whenever it happens;
- a hit whose value no PUT of that key wrote (`phantom_value`), or whose PUT
  began only after the GET had ended (`future_value`), is a violation,
  whenever it happens: no state of the link excuses either;
- a hit on a GET that ran entirely inside the time every instance had been
  ready for `settle_s` (`stale_read`) is a violation when some acknowledged
  (2xx) PUT or DELETE of the key began after the returned value's PUT had
  ended, and itself ended before the GET began: it replaced that value;
- such a hit is a violation too (`invalidated_read`) when an acknowledged
  INVALIDATE of the key's tag (`tag_of`: every PUT tags its value with it)
  began after the returned value's PUT had ended, and itself ended before
  the GET began (docs/consistency.md, "Tags").

A GET must END inside the settled window too, not only start there: a GET
whose answer comes after a link left `ready` may lawfully be answered from
memory ("may return the last value it held"). Memory hits are answered the
moment they start, so the check loses almost nothing by it.

Values are unique per PUT (the generator writes "<instance>-<seq>"), so a
value names the PUT that wrote it. Times are seconds on one clock: the
generator's time.monotonic() and the journal's `monotonic` field are both
CLOCK_MONOTONIC, which all processes on one Linux machine share. Pure and
standard library only, so it is tested without servers.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "Op", "Violation", "Window", "both_ready", "check_history", "settled", "tag_of", "within",
]

Window = tuple[float, float]  # [start, end) on the shared monotonic clock
EXPECTED_STATUS = {"GET": (200, 404), "PUT": (204,), "DELETE": (204,), "INVALIDATE": (200,)}
# Tags share the history's key space under this head (a key never starts with it).
TAG_HEAD = "~tag:"
TAG_GROUPS = 3


def tag_of(key: str) -> str:
    """The tag every PUT of `key` carries: keys `k<n>` fall in TAG_GROUPS groups,
    so one INVALIDATE (whose Op's `key` is the tag) covers several keys; any
    other key is alone in its own."""
    number = key[1:]
    return f"g{int(number) % TAG_GROUPS}" if number.isdigit() else f"g-{key}"
DEFAULT_SETTLE_S = 0.100  # N of the promise: at most 100 ms


@dataclass(frozen=True, slots=True)
class Op:
    """One request as the generator saw it.

    `value` is the value written (PUT), the value read (GET hit), or None (a
    GET miss, a DELETE, a failed request); `status` is None when no HTTP
    answer came (`error` then names the transport error); `source` is a
    GET's X-Cache header.
    """

    instance: str
    op: str
    key: str
    value: str | None
    status: int | None
    start: float
    end: float
    error: str = ""
    source: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def hit(self) -> bool:
        return self.op == "GET" and self.status == 200 and self.value is not None


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule: its kind, where and when, and why in words;
    `source` is the X-Cache of the GET that broke it."""

    kind: str
    instance: str
    at: float
    detail: str
    source: str = ""


def both_ready(ready: Mapping[str, Sequence[Window]]) -> list[Window]:
    """The times every instance was ready: the intersection of their windows."""
    common: list[Window] | None = None
    for windows in ready.values():
        mine = sorted(windows)
        if common is None:
            common = mine
            continue
        common = [(max(a, c), min(b, d)) for a, b in common for c, d in mine
                  if max(a, c) < min(b, d)]
    return sorted(common or [])


def settled(windows: Iterable[Window], settle_s: float) -> list[Window]:
    """Each window less its first `settle_s`; windows shorter than that go."""
    return [(start + settle_s, end) for start, end in windows if start + settle_s < end]


def within(op: Op, windows: Sequence[Window]) -> bool:
    """Whether the operation ran entirely inside one of `windows`."""
    return any(start <= op.start and op.end <= end for start, end in windows)


def check_history(ops: Sequence[Op], ready: Mapping[str, Sequence[Window]], *,
                  settle_s: float = DEFAULT_SETTLE_S, origin: float = 0.0,
                  down: Mapping[str, Sequence[Window]] | None = None) -> list[Violation]:
    """Every violation of the rules above, in time order (empty: a pass).

    `ready` maps each instance to the windows its link was ready; `origin`
    is subtracted from the times quoted in the details (the run's start).
    `down` maps an instance to the times its process was stopped on purpose
    (scripts/soak/restarts.py): a request to it that got no answer then
    promised nothing and is no violation; any answer it got is checked.
    """
    windows = settled(both_ready(ready), settle_s)
    writers = {op.value: op for op in ops if op.op == "PUT" and op.value is not None}
    replacers = _Replacers(ops)
    found = [v for op in ops if not _stopped(op, down or {}) for v in _status_violations(op)]
    for op in ops:
        if not op.hit or op.value is None:  # (a hit has a value: for mypy)
            continue
        writer = writers.get(op.value)
        if writer is None or writer.key != op.key:
            found.append(_violation("phantom_value", op, "no PUT of this key wrote it"))
        elif writer.start > op.end:
            found.append(_violation("future_value", op,
                                    f"its PUT began at {writer.start - origin:+.3f} s, "
                                    "after the GET had ended"))
        elif within(op, windows):
            for kind, name in (("stale_read", op.key),
                               ("invalidated_read", TAG_HEAD + tag_of(op.key))):
                replacer = replacers.latest_before(name, op.start)
                if replacer is not None and replacer.start > writer.end:
                    found.append(_violation(
                        kind, op,
                        f"replaced by {_name(replacer)}"
                        f" ({replacer.start - origin:+.3f}..{replacer.end - origin:+.3f} s)"
                        f" before the GET began at {op.start - origin:+.3f} s"))
    return sorted(found, key=lambda v: v.at)


def _stopped(op: Op, down: Mapping[str, Sequence[Window]]) -> bool:
    """An unanswered request that overlapped its instance's stop."""
    return op.status is None and any(op.start < end and start < op.end
                                     for start, end in down.get(op.instance, ()))


def _status_violations(op: Op) -> list[Violation]:
    if op.status is None:
        return [_violation("transport_error", op, op.error or "no answer")]
    if op.status >= 500:
        return [_violation("server_error", op, f"HTTP {op.status}")]
    if op.status not in EXPECTED_STATUS.get(op.op, ()):
        return [_violation("unexpected_status", op, f"HTTP {op.status}")]
    return []


def _name(op: Op) -> str:
    return f"{op.instance} {op.op}" + (f" {op.value}" if op.op == "PUT" else
                                       f" {op.key}" if op.op == "INVALIDATE" else "")


def _violation(kind: str, op: Op, why: str) -> Violation:
    shown = f" -> {op.value} ({op.source or op.status})" if op.op == "GET" else ""
    return Violation(kind, op.instance, op.start, f"{op.op} {op.key}{shown}: {why}", op.source)


class _Replacers:
    """Per key, the acknowledged PUTs and DELETEs by end time, with the one
    that started latest among those ending before any moment: if even that
    one began before the returned value's PUT ended, no write replaced it.
    O(log n) a GET, so hour-long histories check in seconds."""

    def __init__(self, ops: Iterable[Op]) -> None:
        by_key: dict[str, list[Op]] = defaultdict(list)
        for op in ops:
            if op.op in ("PUT", "DELETE") and op.acknowledged:
                by_key[op.key].append(op)
            elif op.op == "INVALIDATE" and op.acknowledged:
                by_key[TAG_HEAD + op.key].append(op)
        self._ends: dict[str, list[float]] = {}
        self._latest: dict[str, list[Op]] = {}
        for key, writes in by_key.items():
            writes.sort(key=lambda w: w.end)
            self._ends[key] = [w.end for w in writes]
            latest: list[Op] = []
            for write in writes:
                latest.append(write if not latest or write.start > latest[-1].start
                              else latest[-1])
            self._latest[key] = latest

    def latest_before(self, key: str, moment: float) -> Op | None:
        """Of the writes of `key` that ended before `moment`, the latest to start."""
        count = bisect_left(self._ends.get(key, []), moment)
        return self._latest[key][count - 1] if count else None
