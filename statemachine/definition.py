"""The connection states and transitions, declared as one table.

    disconnected --connect--> connecting --succeed--> ready
    ready / connecting / reconnecting --fail--> error --retry--> reconnecting
    reconnecting --attempt--> reconnecting --succeed--> ready
    error --give_up--> failed --probe--> reconnecting
    every state but closed --close--> closed

``note_error`` (an error counted without a change of state), ``drop`` (the
socket torn down after an error) and ``attempt`` are reflexive. The table is
built into a synchronous ``transitions.Machine``: triggers are called from
one asyncio thread and the callbacks do no I/O, so there is nothing to await.
``AsyncMachine`` would be a trap here: a trigger fired while another one's
callbacks run cancels them unless ``queued=True``, and each trigger costs a
task switch. This module is the only one that touches ``transitions``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any, TypeVar

from transitions import Machine

from statemachine.events import LinkEvent

__all__ = [
    "TRANSITIONS",
    "IllegalTransition",
    "LinkMachine",
    "State",
    "allowed_triggers",
]


class State(str, Enum):
    """The seven states of the Redis link."""

    DISCONNECTED = "disconnected"  # initial: nothing attempted yet (lazy connect)
    CONNECTING = "connecting"  # the first attempt
    READY = "ready"
    ERROR = "error"  # an error ended a link or an attempt
    RECONNECTING = "reconnecting"  # waiting out a backoff or making a retry
    FAILED = "failed"  # gave up; probes every probe interval
    CLOSED = "closed"  # shut down deliberately; terminal


_S = State
_ALL_BUT_CLOSED = tuple(s for s in State if s is not State.CLOSED)
_SAME = "="  # transitions' marker for "dest is the source": a reflexive transition

# trigger, sources, dest
TRANSITIONS: tuple[tuple[str, tuple[State, ...], str], ...] = (
    ("connect", (_S.DISCONNECTED,), _S.CONNECTING.value),
    ("succeed", (_S.CONNECTING, _S.RECONNECTING), _S.READY.value),
    ("fail", (_S.READY, _S.CONNECTING, _S.RECONNECTING), _S.ERROR.value),
    ("note_error", (_S.READY, _S.RECONNECTING, _S.ERROR, _S.FAILED), _SAME),
    ("drop", (_S.ERROR,), _SAME),
    ("retry", (_S.ERROR,), _S.RECONNECTING.value),
    ("give_up", (_S.ERROR,), _S.FAILED.value),
    ("probe", (_S.FAILED,), _S.RECONNECTING.value),
    ("attempt", (_S.RECONNECTING,), _SAME),
    ("close", _ALL_BUT_CLOSED, _S.CLOSED.value),
)


def allowed_triggers() -> dict[str, frozenset[str]]:
    """For each state, the triggers the table accepts there."""
    allowed: dict[str, set[str]] = {s.value: set() for s in State}
    for trigger, sources, _dest in TRANSITIONS:
        for source in sources:
            allowed[source.value].add(trigger)
    return {state: frozenset(triggers) for state, triggers in allowed.items()}


class IllegalTransition(Exception):
    """A trigger the current state does not accept; nothing was changed."""

    def __init__(self, trigger: str, state: str) -> None:
        super().__init__(f"cannot {trigger!r} from state {state!r}")
        self.trigger = trigger
        self.state = state


class _Model:
    """The state holder; transitions sets ``state`` as a plain attribute."""

    state: str


E = TypeVar("E", bound=LinkEvent)
Build = Callable[[str, str], LinkEvent]


class LinkMachine:
    """Runs triggers against the table and records one event per transition.

    ``fire`` is given a builder that turns (source, dest) into the event; the
    single machine-level ``after_state_change`` hook builds it and passes it
    to ``on_record``. That hook fires for reflexive transitions too
    (transitions 0.9, checked by a test), so every transition is recorded.
    """

    def __init__(self, on_record: Callable[[LinkEvent], None]) -> None:
        self._on_record = on_record
        self._allowed = allowed_triggers()
        self._model = _Model()
        self._machine = Machine(
            model=self._model,
            states=[s.value for s in State],
            transitions=[
                {"trigger": t, "source": [s.value for s in srcs], "dest": dest}
                for t, srcs, dest in TRANSITIONS
            ],
            initial=State.DISCONNECTED.value,
            auto_transitions=False,  # no to_<state>(): only the table's moves exist
            send_event=True,
            after_state_change=self._after_state_change,
        )

    @property
    def state(self) -> str:
        return self._model.state

    def can(self, trigger: str) -> bool:
        return trigger in self._allowed[self._model.state]

    def fire(self, trigger: str, build: Callable[[str, str], E]) -> E:
        """Run ``trigger``; raise IllegalTransition (changing nothing) if refused."""
        if not self.can(trigger):
            raise IllegalTransition(trigger, self._model.state)
        built: list[E] = []

        def build_and_keep(source: str, dest: str) -> E:
            event = build(source, dest)
            built.append(event)
            return event

        self._machine.events[trigger].trigger(self._model, build=build_and_keep)
        return built[0]

    def _after_state_change(self, event_data: Any) -> None:
        # event_data is transitions' EventData; its attributes are dynamic.
        transition = event_data.transition
        build: Build = event_data.kwargs["build"]
        self._on_record(build(transition.source, transition.dest))
