"""ConnectionLifecycle's contract call by call: close from everywhere,
illegal calls refused without a trace, ignored errors, input hygiene."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from statemachine import (
    BackoffPolicy,
    Closed,
    ConnectionLifecycle,
    ErrorKind,
    FakeClock,
    IllegalTransition,
    Journal,
    ProbeStarted,
    ReconnectStarted,
)
from tests.statemachine.positions import POSITIONS

MakeLifecycle = Callable[[str], ConnectionLifecycle]

# The driver calls that can be refused, and where each one is legal.
CALLS: dict[str, Callable[[ConnectionLifecycle], object]] = {
    "start_connect": lambda lc: lc.start_connect(),
    "start_attempt": lambda lc: lc.start_attempt(),
    "connected": lambda lc: lc.connected(),
    "disconnected": lambda lc: lc.disconnected("socket closed"),
    "schedule_retry": lambda lc: lc.schedule_retry(),
}
LEGAL = {
    "disconnected": {"start_connect"},
    "connecting": {"connected"},
    "ready": set(),
    "error": {"disconnected", "schedule_retry"},
    "reconnecting_waiting": {"start_attempt"},
    "reconnecting_attempting": {"connected"},
    "failed": {"start_attempt"},
    "closed": set(),
}
ILLEGAL = [(pos, call) for pos in POSITIONS for call in CALLS if call not in LEGAL[pos]]


@pytest.mark.parametrize("position", POSITIONS)
def test_close_from_every_state(make_lifecycle: MakeLifecycle, position: str) -> None:
    lc = make_lifecycle(position)
    before = lc.journal.events()
    closed = lc.close()
    if position == "closed":
        assert closed is None
        assert lc.journal.events() == before
    else:
        assert isinstance(closed, Closed)
        assert (closed.source, closed.dest) == (position.split("_")[0], "closed")
        assert lc.journal.events() == [*before, closed]
        assert lc.view.next_retry_in_s is None and not lc.view.attempt_in_flight
    assert lc.state == "closed" and lc.view.state == "closed"
    # Closing is idempotent and final.
    events = lc.journal.events()
    assert lc.close() is None
    assert lc.error_seen(ErrorKind.CONNECTION_RESET, "late") is None
    assert lc.journal.events() == events
    for call in CALLS.values():
        with pytest.raises(IllegalTransition):
            call(lc)
    assert lc.state == "closed"


@pytest.mark.parametrize(("position", "call"), ILLEGAL)
def test_illegal_calls_are_refused_and_change_nothing(
    make_lifecycle: MakeLifecycle, position: str, call: str
) -> None:
    lc = make_lifecycle(position)
    state, view, events = lc.state, lc.view, lc.journal.events()
    with pytest.raises(IllegalTransition) as refused:
        CALLS[call](lc)
    assert refused.value.state == state
    assert refused.value.trigger in str(refused.value)
    assert (lc.state, lc.view, lc.journal.events()) == (state, view, events)
    # No sequence number was consumed by the refusal.
    closed = lc.close()
    if closed is not None:
        assert closed.seq == len(events) + 1


@pytest.mark.parametrize("position", POSITIONS)
def test_every_legal_call_records_exactly_one_event(
    make_lifecycle: MakeLifecycle, position: str
) -> None:
    for call in sorted(LEGAL[position]):
        lc = make_lifecycle(position)
        before = lc.journal.events()
        event = CALLS[call](lc)
        assert lc.journal.events() == [*before, event]
        assert lc.state == lc.view.state


def test_probe_only_from_failed_and_attempt_only_after_backoff(
    make_lifecycle: MakeLifecycle,
) -> None:
    assert isinstance(make_lifecycle("failed").start_attempt(), ProbeStarted)
    assert isinstance(
        make_lifecycle("reconnecting_waiting").start_attempt(), ReconnectStarted
    )
    lc = make_lifecycle("reconnecting_attempting")
    with pytest.raises(IllegalTransition, match="attempt"):
        lc.start_attempt()


def test_errors_without_a_link_are_ignored(lifecycle: ConnectionLifecycle) -> None:
    assert lifecycle.error_seen(ErrorKind.TIMEOUT, "nothing to time out") is None
    assert lifecycle.journal.events() == []
    assert lifecycle.view.errors_total == 0


def test_error_kind_may_be_given_as_its_value(lifecycle: ConnectionLifecycle) -> None:
    lifecycle.start_connect()
    lifecycle.connected()
    seen = lifecycle.error_seen("readonly", "READONLY")  # type: ignore[arg-type]
    assert seen is not None and seen.kind is ErrorKind.READONLY and seen.dest == "error"


def test_long_messages_are_clipped(lifecycle: ConnectionLifecycle) -> None:
    lifecycle.start_connect()
    seen = lifecycle.error_seen(ErrorKind.RESPONSE, "x" * 10_000)
    assert seen is not None
    assert len(seen.message) == 500 and seen.message.endswith("…")


def test_events_are_stamped_from_the_injected_clock() -> None:
    clock = FakeClock(monotonic=100.0, wall=1_700_000_000.5)
    lc = ConnectionLifecycle(clock, BackoffPolicy())
    first = lc.start_connect()
    clock.advance(2.25)
    second = lc.connected()
    assert (first.seq, first.monotonic, first.wall) == (1, 100.0, 1_700_000_000.5)
    assert (second.seq, second.monotonic, second.wall) == (2, 102.25, 1_700_000_002.75)
    assert lc.view.last_ready_time == 1_700_000_002.75


def test_a_used_journal_is_refused(clock: FakeClock, policy: BackoffPolicy) -> None:
    journal = Journal()
    ConnectionLifecycle(clock, policy, journal).start_connect()
    with pytest.raises(ValueError, match="fresh"):
        ConnectionLifecycle(clock, policy, journal)


def test_subscribers_see_the_view_already_folded(
    clock: FakeClock, policy: BackoffPolicy
) -> None:
    journal = Journal()
    lc = ConnectionLifecycle(clock, policy, journal)
    seen: list[tuple[str, str]] = []
    journal.subscribe(lambda event: seen.append((event.dest, lc.view.state)))
    lc.start_connect()
    lc.connected()
    assert seen == [("connecting", "connecting"), ("ready", "ready")]


def test_an_outbox_replay_is_recorded_within_the_attempt(lifecycle: ConnectionLifecycle) -> None:
    lifecycle.start_connect()
    event = lifecycle.replayed(3, ("default",), 40, 0.012)
    assert (event.source, event.dest, event.keys, event.overflow) == ("connecting", "connecting", 3, True)
    lifecycle.connected()
    view = lifecycle.view
    assert (view.replays_total, view.replayed_keys_total, view.outbox_overflows_total) == (1, 3, 1)
    # Outside an attempt (ready) there is nothing to replay into.
    with pytest.raises(IllegalTransition):
        lifecycle.replayed(0, (), 0, 0.0)


def test_a_master_switch_cuts_the_wait_and_the_attempt_follows(
    lifecycle: ConnectionLifecycle,
) -> None:
    lifecycle.start_connect()
    lifecycle.connected()
    with pytest.raises(IllegalTransition):  # ready: the driver drops the link first
        lifecycle.master_switched("10.0.0.1:6379", "10.0.0.2:6379")
    lifecycle.error_seen(ErrorKind.CONNECTION_RESET, "reset")
    lifecycle.schedule_retry()  # waiting out 1 s
    event = lifecycle.master_switched("10.0.0.1:6379", "10.0.0.2:6379")
    assert (event.source, event.dest, event.new_master) == ("reconnecting",) * 2 + ("10.0.0.2:6379",)
    assert lifecycle.view.master == "10.0.0.2:6379" and lifecycle.view.next_retry_in_s is None
    lifecycle.start_attempt()  # at once
    with pytest.raises(IllegalTransition):  # not while an attempt is under way
        lifecycle.master_switched("10.0.0.2:6379", "10.0.0.3:6379")
