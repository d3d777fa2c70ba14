"""The connection states and transitions, declared as one table with guards.

    disconnected --connect--> connecting --succeed--> ready
    ready / connecting / reconnecting --fail--> error --retry--> reconnecting
    reconnecting --attempt--> reconnecting --succeed--> ready
    error --give_up--> failed --probe--> reconnecting
    every state but closed --close--> closed

``note_error`` (an error counted without a change of state), ``drop`` (the
socket torn down after an error), ``attempt``, ``replay`` (the outage's
writes applied to Redis within a connect attempt, before ``ready``) and
``switch_master`` (Sentinel named a new master while the link waits: the
wait is cut short) are reflexive. A row may
name conditions, all of which must hold for it to apply; where a trigger has
several rows the first that applies wins, and a trigger no row admits is
refused. So the table alone answers "may this happen now?": success needs an
attempt in flight, a reconnect attempt needs none (one attempt per scheduled
wait: the backoff cannot be skipped), only a link-dropping error fails a
ready link, and ``retry`` and ``give_up`` split on the backoff policy.

The conditions read the live facts through ``Guards`` (the lifecycle), and
the error kind from the trigger's arguments. The table is built into a
synchronous ``transitions.Machine``: triggers are called from one asyncio
thread and the callbacks do no I/O, so there is nothing to await.
``AsyncMachine`` would be a trap here: a trigger fired while another one's
callbacks run cancels them unless ``queued=True``, and each trigger costs a
task switch. This module is the only one that touches ``transitions``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from transitions import Machine

from statemachine.errors import ErrorKind, drops_link
from statemachine.events import LinkEvent
from statemachine.states import State

__all__ = [
    "TRANSITIONS",
    "Guards",
    "IllegalTransition",
    "LinkMachine",
    "State",
]


class Guards(Protocol):
    """The facts the conditions read, kept by the lifecycle's live view."""

    def attempt_in_flight(self) -> bool: ...

    def attempts_exhausted(self) -> bool: ...


_S = State
_ALL_BUT_CLOSED = tuple(s for s in State if s is not State.CLOSED)
_SAME = "="  # transitions' marker for "dest is the source": a reflexive transition

# Each condition: (guards, the trigger's keyword arguments) -> bool.
Condition = Callable[[Guards, dict[str, Any]], bool]
CONDITIONS: dict[str, Condition] = {
    "attempt_in_flight": lambda g, _: g.attempt_in_flight(),
    "no_attempt_in_flight": lambda g, _: not g.attempt_in_flight(),
    "drops_link": lambda _, kw: drops_link(ErrorKind(kw["kind"])),
    "keeps_link": lambda _, kw: not drops_link(ErrorKind(kw["kind"])),
    "attempts_left": lambda g, _: not g.attempts_exhausted(),
    "attempts_exhausted": lambda g, _: g.attempts_exhausted(),
}

# trigger, sources, dest, conditions (names in CONDITIONS; all must hold)
TRANSITIONS: tuple[tuple[str, tuple[State, ...], str, tuple[str, ...]], ...] = (
    ("connect", (_S.DISCONNECTED,), _S.CONNECTING.value, ()),
    ("succeed", (_S.CONNECTING, _S.RECONNECTING), _S.READY.value, ("attempt_in_flight",)),
    ("fail", (_S.READY,), _S.ERROR.value, ("drops_link",)),
    ("fail", (_S.CONNECTING, _S.RECONNECTING), _S.ERROR.value, ("attempt_in_flight",)),
    ("note_error", (_S.READY,), _SAME, ("keeps_link",)),
    ("note_error", (_S.RECONNECTING,), _SAME, ("no_attempt_in_flight",)),
    ("note_error", (_S.ERROR, _S.FAILED), _SAME, ()),
    ("drop", (_S.ERROR,), _SAME, ()),
    ("retry", (_S.ERROR,), _S.RECONNECTING.value, ("attempts_left",)),
    ("give_up", (_S.ERROR,), _S.FAILED.value, ("attempts_exhausted",)),
    ("probe", (_S.FAILED,), _S.RECONNECTING.value, ()),
    ("attempt", (_S.RECONNECTING,), _SAME, ("no_attempt_in_flight",)),
    ("replay", (_S.CONNECTING, _S.RECONNECTING), _SAME, ("attempt_in_flight",)),
    ("switch_master", (_S.RECONNECTING,), _SAME, ("no_attempt_in_flight",)),
    ("switch_master", (_S.FAILED,), _SAME, ()),
    ("close", _ALL_BUT_CLOSED, _S.CLOSED.value, ()),
)


class IllegalTransition(Exception):
    """A trigger the current state does not accept; nothing was changed."""

    def __init__(self, trigger: str, state: str) -> None:
        super().__init__(f"cannot {trigger!r} from state {state!r}")
        self.trigger = trigger
        self.state = state


class _Model:
    """The state holder; transitions sets ``state`` and adds ``may_<trigger>``."""

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

    def __init__(self, on_record: Callable[[LinkEvent], None], guards: Guards) -> None:
        self._on_record = on_record
        self._guards = guards
        self._model = _Model()
        self._machine = Machine(
            model=self._model,
            states=[s.value for s in State],
            transitions=[
                {
                    "trigger": trigger,
                    "source": [s.value for s in sources],
                    "dest": dest,
                    "conditions": [self._condition(name) for name in conditions],
                }
                for trigger, sources, dest, conditions in TRANSITIONS
            ],
            initial=State.DISCONNECTED.value,
            auto_transitions=False,  # no to_<state>(): only the table's moves exist
            send_event=True,
            after_state_change=self._after_state_change,
        )

    @property
    def state(self) -> str:
        return self._model.state

    def triggers(self) -> list[str]:
        """The triggers some row names for the current state (conditions aside)."""
        return list(self._machine.get_triggers(self._model.state))

    def can(self, trigger: str, **kwargs: Any) -> bool:
        """Whether ``trigger`` with these arguments would be accepted now."""
        if trigger not in self._machine.get_triggers(self._model.state):
            return False
        may: Callable[..., bool] = getattr(self._model, f"may_{trigger}")
        return may(**kwargs)

    def fire(self, trigger: str, build: Callable[[str, str], E], **kwargs: Any) -> E:
        """Run ``trigger``; raise IllegalTransition (changing nothing) if refused."""
        if not self.can(trigger, **kwargs):
            raise IllegalTransition(trigger, self._model.state)
        built: list[E] = []

        def build_and_keep(source: str, dest: str) -> E:
            event = build(source, dest)
            built.append(event)
            return event

        self._machine.events[trigger].trigger(self._model, build=build_and_keep, **kwargs)
        return built[0]

    def _condition(self, name: str) -> Callable[[Any], bool]:
        check = CONDITIONS[name]
        # event_data is transitions' EventData; its attributes are dynamic.
        return lambda event_data: check(self._guards, event_data.kwargs)

    def _after_state_change(self, event_data: Any) -> None:
        transition = event_data.transition
        build: Build = event_data.kwargs["build"]
        self._on_record(build(transition.source, transition.dest))
