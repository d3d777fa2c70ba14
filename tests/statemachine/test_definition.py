"""The transition table as built, the machine wrapper's refusals, and the
``transitions`` behaviour the single recording hook relies on."""

from __future__ import annotations

from typing import Any

import pytest
from transitions import Machine

from statemachine import TRANSITIONS, ConnectStarted, IllegalTransition, State
from statemachine.definition import LinkMachine, allowed_triggers
from statemachine.events import LinkEvent

STATES = {
    "disconnected",
    "connecting",
    "ready",
    "error",
    "reconnecting",
    "failed",
    "closed",
}
TRIGGERS = {
    "connect", "succeed", "fail", "note_error", "drop",
    "retry", "give_up", "probe", "attempt", "close",
}  # fmt: skip
# Shortest trigger path from "disconnected" to each state.
PATHS = {
    "disconnected": [],
    "connecting": ["connect"],
    "ready": ["connect", "succeed"],
    "error": ["connect", "fail"],
    "reconnecting": ["connect", "fail", "retry"],
    "failed": ["connect", "fail", "give_up"],
    "closed": ["close"],
}


def stub(source: str, dest: str) -> LinkEvent:
    return ConnectStarted(seq=0, monotonic=0.0, wall=0.0, source=source, dest=dest)


def machine_in(state: str) -> tuple[LinkMachine, list[LinkEvent]]:
    recorded: list[LinkEvent] = []
    machine = LinkMachine(on_record=recorded.append)
    for trigger in PATHS[state]:
        machine.fire(trigger, stub)
    assert machine.state == state
    return machine, recorded


def test_seven_states_ten_triggers_one_table() -> None:
    assert {s.value for s in State} == STATES
    assert {t for t, _, _ in TRANSITIONS} == TRIGGERS
    assert len(TRANSITIONS) == len(TRIGGERS)  # one row per trigger
    allowed = allowed_triggers()
    assert set(allowed) == STATES
    assert allowed["closed"] == frozenset()  # terminal
    assert all("close" in allowed[s] for s in STATES - {"closed"})
    assert allowed["disconnected"] == {"connect", "close"}


@pytest.mark.parametrize(
    ("trigger", "state", "dest"),
    [
        ("note_error", "ready", "ready"),
        ("note_error", "failed", "failed"),
        ("drop", "error", "error"),
        ("attempt", "reconnecting", "reconnecting"),
        ("succeed", "reconnecting", "ready"),
        ("probe", "failed", "reconnecting"),
    ],
)
def test_each_transition_records_one_event(trigger: str, state: str, dest: str) -> None:
    machine, recorded = machine_in(state)
    before = len(recorded)
    event = machine.fire(trigger, stub)
    assert recorded[before:] == [event]
    assert (event.source, event.dest, machine.state) == (state, dest, dest)


@pytest.mark.parametrize("state", sorted(STATES))
def test_triggers_outside_the_table_are_refused(state: str) -> None:
    illegal = TRIGGERS - allowed_triggers()[state]
    assert illegal, "every state refuses something"
    for trigger in sorted(illegal):
        machine, recorded = machine_in(state)
        before = list(recorded)
        with pytest.raises(IllegalTransition) as refused:
            machine.fire(trigger, stub)
        assert (refused.value.trigger, refused.value.state) == (trigger, state)
        assert machine.state == state and recorded == before
        assert not machine.can(trigger)


def test_after_state_change_fires_for_reflexive_and_internal_transitions() -> None:
    # The design records every event from one machine-level hook; that holds
    # only because transitions 0.9 calls after_state_change for reflexive
    # ("=") and internal (dest=None) transitions too.
    seen: list[tuple[str, Any]] = []

    class Model:
        state: str

    model = Model()

    def hook(event_data: Any) -> None:
        seen.append((event_data.event.name, event_data.transition.dest))

    Machine(
        model=model,
        states=["a", "b"],
        initial="a",
        auto_transitions=False,
        send_event=True,
        after_state_change=hook,
        transitions=[
            {"trigger": "go", "source": "a", "dest": "b"},
            {"trigger": "stay", "source": "b", "dest": "="},
            {"trigger": "inside", "source": "b", "dest": None},
        ],
    )
    model.go()  # type: ignore[attr-defined]
    model.stay()  # type: ignore[attr-defined]
    model.inside()  # type: ignore[attr-defined]
    assert seen == [("go", "b"), ("stay", "b"), ("inside", None)]
    assert model.state == "b"
