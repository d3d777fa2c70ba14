"""An instance's connection journal (/health/events): legal, and when it was ready.

    /health/events JSON ─► parse_journal ─► check_journal   (legal moves only)
                                        └─► ready_windows   (for check_history)

A journal is legal when it starts where the machine starts (`disconnected`),
each event leaves the state the previous one entered, and every (from, to)
is a move some row of the transition table allows. The allowed moves are
derived from `statemachine.definition.TRANSITIONS` (pure: stdlib and
`transitions`), so a new row there needs no change here. Conditions are
not checked: the journal does not carry the facts they read.

Event times are the service's `time.monotonic()`, CLOCK_MONOTONIC, the same
clock as the generator's on one Linux machine, so windows need no mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scripts.soak.history import Violation, Window
from statemachine.definition import TRANSITIONS
from statemachine.states import State

__all__ = ["JournalEvent", "allowed_moves", "check_journal", "parse_journal", "ready_windows"]

SAME = "="  # the table's dest for a reflexive row ("stay where you are")
INITIAL = State.DISCONNECTED.value
READY = State.READY.value


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """The fields of one event (`to_dict`) that the checks read."""

    seq: int
    type: str
    source: str
    dest: str
    monotonic: float

    @classmethod
    def from_dict(cls, event: Mapping[str, Any]) -> JournalEvent:
        return cls(int(event["seq"]), str(event["type"]), str(event["from"]),
                   str(event["to"]), float(event["monotonic"]))


def parse_journal(body: Mapping[str, Any]) -> tuple[list[JournalEvent], int]:
    """The events of a /health/events answer, oldest first, and how many it dropped."""
    return [JournalEvent.from_dict(e) for e in body["events"]], int(body.get("dropped", 0))


def allowed_moves() -> frozenset[tuple[str, str]]:
    """Every (source, dest) some row of the transition table allows."""
    return frozenset(
        (State(source).value, State(source).value if dest == SAME else dest)
        for _trigger, sources, dest, _conditions in TRANSITIONS
        for source in sources
    )


def check_journal(instance: str, events: Sequence[JournalEvent], *, dropped: int = 0,
                  origin: float = 0.0) -> list[Violation]:
    """Every way the journal breaks the machine's rules (empty: legal).

    With `dropped` events lost off its front it cannot be checked from the
    start: that is a violation itself, and the rest is checked from the
    first event kept.
    """
    found: list[Violation] = []
    state = INITIAL
    if dropped:
        found.append(Violation("journal_dropped", instance, origin,
                               f"{dropped} events dropped: raise JOURNAL_CAPACITY"))
        state = events[0].source if events else INITIAL
    moves = allowed_moves()
    previous: JournalEvent | None = None
    for event in events:
        at = f"#{event.seq} {event.type} {event.source}->{event.dest}"
        if event.source != state:
            found.append(Violation("journal_gap", instance, event.monotonic,
                                   f"{at}: the previous event entered {state!r}"))
        if (event.source, event.dest) not in moves:
            found.append(Violation("illegal_move", instance, event.monotonic,
                                   f"{at}: no transition allows it"))
        if previous is not None and event.seq != previous.seq + 1:
            found.append(Violation("journal_seq", instance, event.monotonic,
                                   f"{at}: follows #{previous.seq}"))
        state, previous = event.dest, event
    return found


def ready_windows(events: Sequence[JournalEvent], until: float) -> list[Window]:
    """When the link was ready: from each entry into `ready` to the next
    event that leaves it (a reflexive event in `ready` does not), the last
    one open until `until` (when the journal was read)."""
    windows: list[Window] = []
    opened: float | None = None
    for event in events:
        if event.dest == READY and opened is None:
            opened = event.monotonic
        elif event.dest != READY and opened is not None:
            windows.append((opened, event.monotonic))
            opened = None
    if opened is not None:
        windows.append((opened, until))
    return windows
