"""What the drill reads in /health/events: the link's path through its states."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scripts.drill.probe import StepFailed

JOURNAL_LIMIT = 1000  # the service's default JOURNAL_CAPACITY
OUTAGE_STATES = frozenset({"error", "reconnecting", "failed"})


def journal_path(events: Sequence[dict[str, Any]]) -> list[str]:
    """The states the link went through: the first event's source, then each new state."""
    changes = [e for e in events if e["from"] != e["to"]]
    return [changes[0]["from"], *(e["to"] for e in changes)] if changes else []


def check_sequence(events: Sequence[dict[str, Any]]) -> str:
    """Raise StepFailed unless the states read ready -> error -> ... -> ready."""
    path = journal_path(events)
    shown = " -> ".join(path) or "(no state changes)"
    if path[:2] != ["ready", "error"]:
        raise StepFailed(f"expected the journal to start ready -> error, got {shown}")
    if "ready" not in path[2:]:
        raise StepFailed(f"the link never returned to ready: {shown}")
    back = path.index("ready", 2)
    between = path[1:back]
    if "reconnecting" not in between or not set(between) <= OUTAGE_STATES:
        raise StepFailed(f"unexpected states during the outage: {shown}")
    if back != len(path) - 1:
        raise StepFailed(f"the link left ready again after recovering: {shown}")
    return shown
