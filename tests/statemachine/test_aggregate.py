"""A cluster's links seen as one: worst state, summed counters, newest error."""

from __future__ import annotations

import pytest

from statemachine.aggregate import SEVERITY, combined, worst_state
from statemachine.projections import LinkView
from statemachine.states import State


def test_every_state_has_a_severity() -> None:
    assert set(SEVERITY) == set(State)


@pytest.mark.parametrize(
    ("states", "worst"),
    [
        (["ready", "ready"], State.READY),
        (["ready", "reconnecting", "ready"], State.RECONNECTING),
        (["ready", "error", "reconnecting"], State.ERROR),
        (["failed", "error"], State.FAILED),
        (["connecting", "ready"], State.CONNECTING),
        ([], State.DISCONNECTED),
    ],
)
def test_the_worst_state_wins(states: list[str], worst: State) -> None:
    assert worst_state(states) == worst


def test_one_ready_link_is_its_own_combination() -> None:
    view = LinkView(state=State.READY, ready_total=2, reconnects_total=1, events_seen=7)
    assert combined([view]) == view


def test_counters_add_up_and_the_newest_error_is_shown() -> None:
    old = LinkView(state=State.READY, errors_total=3, reconnects_total=1, ready_total=2,
                   last_error="old", last_error_kind="timeout", last_error_time=10.0,
                   replays_total=1, replayed_keys_total=4)
    new = LinkView(state=State.RECONNECTING, errors_total=2, failed_attempts=2,
                   reconnect_attempts=3, last_error="refused", last_error_kind="connection_refused",
                   last_error_time=20.0, next_retry_in_s=4.0, next_retry_at=24.0,
                   outbox_overflows_total=1)
    view = combined([old, new])
    assert view.state == State.RECONNECTING
    assert (view.errors_total, view.reconnects_total, view.ready_total) == (5, 1, 2)
    assert (view.last_error, view.last_error_kind, view.last_error_time) == (
        "refused", "connection_refused", 20.0)
    assert (view.failed_attempts, view.reconnect_attempts) == (2, 3)
    assert (view.next_retry_in_s, view.next_retry_at) == (4.0, 24.0)
    assert (view.replays_total, view.replayed_keys_total, view.outbox_overflows_total) == (1, 4, 1)


def test_no_links_is_a_link_not_yet_started() -> None:
    assert combined([]) == LinkView()
