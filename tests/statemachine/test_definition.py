"""The transition table as built, the machine wrapper's refusals, and the
``transitions`` behaviour the single recording hook relies on."""

from __future__ import annotations

from typing import Any

import pytest
from transitions import Machine

from statemachine import (
    TRANSITIONS,
    ConnectStarted,
    ErrorKind,
    IllegalTransition,
    State,
)
from statemachine.definition import CONDITIONS, LinkMachine
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
    "retry", "give_up", "probe", "attempt", "replay", "switch_master", "close",
}  # fmt: skip
DROPS = {"kind": ErrorKind.CONNECTION_RESET}
KEEPS = {"kind": ErrorKind.WRONGTYPE}
# Shortest trigger path from "disconnected" to each state, with arguments.
PATHS: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "disconnected": [],
    "connecting": [("connect", {})],
    "ready": [("connect", {}), ("succeed", {})],
    "error": [("connect", {}), ("fail", DROPS)],
    "reconnecting": [("connect", {}), ("fail", DROPS), ("retry", {})],
    "failed": [("connect", {}), ("fail", DROPS), ("give_up", {})],
    "closed": [("close", {})],
}


class StubGuards:
    """Guards set by hand; the lifecycle derives them from its view."""

    def __init__(self) -> None:
        self.in_flight = True
        self.exhausted = False

    def attempt_in_flight(self) -> bool:
        return self.in_flight

    def attempts_exhausted(self) -> bool:
        return self.exhausted


def stub(source: str, dest: str) -> LinkEvent:
    return ConnectStarted(seq=0, monotonic=0.0, wall=0.0, source=source, dest=dest)


def machine_in(state: str) -> tuple[LinkMachine, list[LinkEvent], StubGuards]:
    recorded: list[LinkEvent] = []
    guards = StubGuards()
    machine = LinkMachine(on_record=recorded.append, guards=guards)
    for trigger, kwargs in PATHS[state]:
        guards.exhausted = trigger == "give_up"
        machine.fire(trigger, stub, **kwargs)
    guards.exhausted = False
    assert machine.state == state
    return machine, recorded, guards


def test_seven_states_twelve_triggers_one_table() -> None:
    assert {s.value for s in State} == STATES
    assert {row[0] for row in TRANSITIONS} == TRIGGERS
    assert {name for row in TRANSITIONS for name in row[3]} <= set(CONDITIONS)
    triggers = {state: set(machine_in(state)[0].triggers()) for state in STATES}
    assert triggers["closed"] == set()  # terminal
    assert all("close" in triggers[s] for s in STATES - {"closed"})
    assert triggers["disconnected"] == {"connect", "close"}
    assert triggers["error"] == {"note_error", "drop", "retry", "give_up", "close"}


@pytest.mark.parametrize(
    ("trigger", "state", "dest", "kwargs"),
    [
        ("note_error", "ready", "ready", KEEPS),
        ("fail", "ready", "error", DROPS),
        ("note_error", "failed", "failed", KEEPS),
        ("drop", "error", "error", {}),
        ("attempt", "reconnecting", "reconnecting", {}),
        ("succeed", "reconnecting", "ready", {}),
        ("probe", "failed", "reconnecting", {}),
        ("replay", "reconnecting", "reconnecting", {}),
        ("replay", "connecting", "connecting", {}),
        ("switch_master", "reconnecting", "reconnecting", {}),
        ("switch_master", "failed", "failed", {}),
    ],
)
def test_each_transition_records_one_event(
    trigger: str, state: str, dest: str, kwargs: dict[str, Any]
) -> None:
    machine, recorded, guards = machine_in(state)
    guards.in_flight = trigger in ("succeed", "replay")
    before = len(recorded)
    event = machine.fire(trigger, stub, **kwargs)
    assert recorded[before:] == [event]
    assert (event.source, event.dest, machine.state) == (state, dest, dest)


@pytest.mark.parametrize("state", sorted(STATES))
def test_triggers_outside_the_table_are_refused(state: str) -> None:
    illegal = TRIGGERS - set(machine_in(state)[0].triggers())
    assert illegal, "every state refuses something"
    for trigger in sorted(illegal):
        machine, recorded, _ = machine_in(state)
        before = list(recorded)
        with pytest.raises(IllegalTransition) as refused:
            machine.fire(trigger, stub, **DROPS)
        assert (refused.value.trigger, refused.value.state) == (trigger, state)
        assert machine.state == state and recorded == before
        assert not machine.can(trigger, **DROPS)


@pytest.mark.parametrize(
    ("state", "trigger", "kwargs", "in_flight", "exhausted"),
    [
        ("reconnecting", "succeed", {}, False, False),  # success needs an attempt
        ("reconnecting", "attempt", {}, True, False),  # one attempt per wait
        ("reconnecting", "replay", {}, False, False),  # only within an attempt
        ("reconnecting", "switch_master", {}, True, False),  # an attempt is under way
        ("reconnecting", "note_error", KEEPS, True, False),  # an attempt's error fails it
        ("ready", "fail", KEEPS, False, False),  # a WRONGTYPE does not drop the link
        ("ready", "note_error", DROPS, False, False),  # a reset cannot be merely counted
        ("error", "retry", {}, False, True),  # the policy gave up
        ("error", "give_up", {}, False, False),  # attempts are left
    ],
)
def test_conditions_refuse_what_the_facts_forbid(
    state: str, trigger: str, kwargs: dict[str, Any], in_flight: bool, exhausted: bool
) -> None:
    machine, recorded, guards = machine_in(state)
    guards.in_flight, guards.exhausted = in_flight, exhausted
    before = list(recorded)
    assert trigger in machine.triggers() and not machine.can(trigger, **kwargs)
    with pytest.raises(IllegalTransition):
        machine.fire(trigger, stub, **kwargs)
    assert machine.state == state and recorded == before


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
