"""What a soak prints, and what `--json` keeps (every op and violation).

Times are seconds after the load's start (`+1.234 s`). The report says how
many GET hits the promise was actually held to: a run in which no GET fell
inside a settled window would pass while checking nothing, and should not
be read as a pass of the promise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from scripts.soak.history import Window, both_ready, settled, within
from scripts.soak.run import Outcome

__all__ = ["EXAMPLES", "render", "to_json"]

EXAMPLES = 3  # shown per kind of violation


def _span(windows: Iterable[Window], since: float = float("-inf"),
          until: float = float("inf")) -> float:
    """Seconds covered by `windows` between `since` and `until`."""
    return sum(max(0.0, min(end, until) - max(start, since)) for start, end in windows)


def _counts(values: Iterable[object]) -> str:
    return ", ".join(f"{k} {n}" for k, n in sorted(Counter(map(str, values)).items())) or "none"


def _held_to_promise(outcome: Outcome) -> tuple[float, int]:
    """Seconds in which every instance had been ready for N ms, and the hits in them."""
    windows = settled(both_ready(outcome.windows), outcome.settings.settle_s)
    return _span(windows, outcome.t0, outcome.finished), sum(1 for op in outcome.ops if op.hit and within(op, windows))


def _fault_lines(outcome: Outcome) -> list[str]:
    lines = []
    for done in outcome.injected:
        back = []
        for name, windows in outcome.windows.items():
            starts = [s for s, _ in windows if s >= done.broken_at]
            back.append(f"{name} {starts[0] - done.restored_at:+.2f} s" if starts
                        else f"{name} never")
        lines.append(f"  +{done.broken_at - outcome.t0:6.2f} s  {done.fault.kind:<5} held "
                     f"{done.restored_at - done.broken_at:.2f} s; ready again after: "
                     + ", ".join(back))
    return lines


def render(outcome: Outcome) -> str:
    s, ops = outcome.settings, outcome.ops
    elapsed = outcome.finished - outcome.t0
    gets = [op for op in ops if op.op == "GET"]
    held_s, held_hits = _held_to_promise(outcome)
    lines = [
        f"chaos: {s.duration_s:g} s at {s.rate:g} ops/s, {s.instances} instance(s), "
        f"{s.keys} keys, seed {s.seed}, N {s.settle_s * 1000:g} ms; "
        f"redis-server with appendfsync always",
        f"faults: {len(outcome.injected)}" + ("" if s.faults else " (--no-faults)"),
        *_fault_lines(outcome),
        f"ops: {len(ops)} ({_counts(op.op for op in ops)}); GET answers: "
        f"{_counts(op.source or op.status for op in gets)}",
        f"statuses: {_counts(op.status if op.status is not None else 'none' for op in ops)}",
        "ready: " + "; ".join(f"{name} {_span(w, outcome.t0, outcome.finished):.1f} s of {elapsed:.1f} s in {len(w)} "
                              f"window(s), journal {outcome.journal_events[name]} events"
                              for name, w in outcome.windows.items()),
        f"held to the promise: {held_s:.1f} s with every instance ready for N ms, "
        f"{held_hits} GET hits in it",
        f"violations: {len(outcome.violations)}"
        + (f" ({_counts(v.kind for v in outcome.violations)})" if outcome.violations else ""),
    ]
    stale = [v for v in outcome.violations if v.kind == "stale_read"]
    if stale:
        lines.append(f"  stale reads by answer: {_counts(v.source for v in stale)}")
    shown: Counter[str] = Counter()
    for violation in outcome.violations:
        shown[violation.kind] += 1
        if shown[violation.kind] <= EXAMPLES:
            lines.append(f"  {violation.kind:<16} {violation.instance} "
                         f"+{violation.at - outcome.t0:7.3f} s  {violation.detail}")
    lines.append("PASS" if not outcome.violations else "FAIL")
    return "\n".join(lines)


def to_json(outcome: Outcome) -> dict[str, Any]:
    """The whole run, times relative to the load's start (seconds)."""
    t0 = outcome.t0
    held_s, held_hits = _held_to_promise(outcome)
    return {
        "schema": 1,
        "settings": asdict(outcome.settings),
        "passed": not outcome.violations,
        "violations_by_kind": dict(Counter(v.kind for v in outcome.violations)),
        "held_to_promise": {"seconds": held_s, "get_hits": held_hits},
        "faults": [{**asdict(d.fault), "broken_at": d.broken_at - t0,
                    "restored_at": d.restored_at - t0} for d in outcome.injected],
        "ready_windows": {name: [[a - t0, b - t0] for a, b in windows]
                          for name, windows in outcome.windows.items()},
        "violations": [{**asdict(v), "at": v.at - t0} for v in outcome.violations],
        "ops": [{**asdict(op), "start": op.start - t0, "end": op.end - t0}
                for op in outcome.ops],
    }
