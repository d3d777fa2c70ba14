"""Property tests: any sequence of driver inputs keeps the lifecycle sound.

Hypothesis drives a lifecycle with arbitrary calls (legal or not) and clock
jumps. After every step: the state is one of the seven, refusals changed
nothing, no attempt started without its BackoffScheduled (or GaveUp for a
probe), every delay is the policy's, and replaying the journal (from its
baseline, also when a tiny journal drops events) gives the live view.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from statemachine import (
    BackoffPolicy,
    BackoffScheduled,
    Connected,
    ConnectionLifecycle,
    ErrorKind,
    ErrorSeen,
    FakeClock,
    GaveUp,
    IllegalTransition,
    Journal,
    LinkEvent,
    ProbeStarted,
    ReconnectStarted,
    State,
    replay,
)
from tests.statemachine.positions import POSITIONS, drive_to

STATES = frozenset(s.value for s in State)
# Small limits so short runs reach "failed" and probes.
POLICY = BackoffPolicy(
    base_s=1.0, factor=2.0, cap_s=3.0, max_attempts=3, probe_interval_s=7.0
)


def previous_transition(history: list[LinkEvent]) -> LinkEvent | None:
    """The event before the last one, skipping errors noted without a change."""
    for event in reversed(history[:-1]):
        if not (isinstance(event, ErrorSeen) and event.source == event.dest):
            return event
    return None


class LifecycleMachine(RuleBasedStateMachine):
    capacity = 1000

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.journal = Journal(self.capacity)
        self.lc = ConnectionLifecycle(self.clock, POLICY, self.journal)
        self.history: list[LinkEvent] = []
        self.journal.subscribe(self.history.append)
        self.steps = 0

    @initialize(position=st.sampled_from(POSITIONS))
    def start_somewhere(self, position: str) -> None:
        # Start from any position (reached through the public API, so its
        # events are journaled too): short runs then cover every state.
        drive_to(self.lc, position)

    def call(self, action: Callable[[], LinkEvent | None]) -> None:
        self.steps += 1
        before = (self.lc.state, self.lc.view, self.journal.events(), len(self.history))
        failed_before = self.lc.view.failed_attempts
        try:
            event = action()
        except IllegalTransition as refused:
            assert refused.state == before[0]
            event = None
        if event is None:
            after = (
                self.lc.state,
                self.lc.view,
                self.journal.events(),
                len(self.history),
            )
            assert after == before
            return
        assert self.history[-1] is event and len(self.history) == before[3] + 1
        assert event.seq == len(self.history)
        assert (event.source, event.dest) == (before[0], self.lc.state)
        self.check_step(event, failed_before)

    def check_step(self, event: LinkEvent, failed_before: int) -> None:
        prior = previous_transition(self.history)
        if isinstance(event, BackoffScheduled):
            assert not POLICY.exhausted(failed_before)
            assert event.attempt == failed_before + 1
            assert event.delay_s == POLICY.delay_for(event.attempt)
        elif isinstance(event, GaveUp):
            assert POLICY.exhausted(failed_before)
            assert event.probe_in_s == POLICY.probe_interval_s
        elif isinstance(event, ReconnectStarted):
            assert (
                isinstance(prior, BackoffScheduled) and prior.attempt == event.attempt
            )
        elif isinstance(event, ProbeStarted):
            assert isinstance(prior, GaveUp)
        elif isinstance(event, Connected) and event.source == "reconnecting":
            assert isinstance(prior, ReconnectStarted | ProbeStarted)

    @rule()
    def connect(self) -> None:
        self.call(self.lc.start_connect)

    @rule()
    def attempt(self) -> None:
        self.call(self.lc.start_attempt)

    @rule()
    def connected(self) -> None:
        self.call(self.lc.connected)

    @rule(kind=st.sampled_from(ErrorKind), message=st.text(max_size=12))
    def error(self, kind: ErrorKind, message: str) -> None:
        self.call(lambda: self.lc.error_seen(kind, message))

    @rule(reason=st.text(max_size=8))
    def disconnected(self, reason: str) -> None:
        self.call(lambda: self.lc.disconnected(reason))

    @rule()
    def schedule_retry(self) -> None:
        self.call(self.lc.schedule_retry)

    @rule()
    def failed_round(self) -> None:
        # What the driver does in an outage, as one step, so short runs
        # reach "failed" and the probes.
        self.call(self.lc.schedule_retry)
        self.call(self.lc.start_attempt)
        self.call(lambda: self.lc.error_seen(ErrorKind.CONNECTION_REFUSED, "refused"))

    # Closing ends a run's interest; uniformly chosen it would end most runs
    # early (close from every state has its own parametrized test).
    @precondition(lambda self: self.steps >= 15)
    @rule()
    def close(self) -> None:
        self.call(self.lc.close)

    @rule(seconds=st.floats(min_value=0, max_value=60, allow_nan=False))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def state_is_one_of_seven(self) -> None:
        assert self.lc.state in STATES
        assert self.lc.view.state == self.lc.state
        assert self.lc.is_ready() == (self.lc.state == "ready")

    @invariant()
    def replay_equals_live_view(self) -> None:
        assert (
            replay(self.journal.events(), start=self.journal.baseline) == self.lc.view
        )
        assert replay(self.history) == self.lc.view
        assert len(self.journal) + self.journal.dropped == len(self.history)


class TinyJournalMachine(LifecycleMachine):
    capacity = 3


SETTINGS = settings(
    max_examples=100,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLifecycleProperties = LifecycleMachine.TestCase
TestLifecycleProperties.settings = SETTINGS
TestTinyJournalProperties = TinyJournalMachine.TestCase
TestTinyJournalProperties.settings = SETTINGS
