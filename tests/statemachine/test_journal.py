"""Journal: bounded, append-only, dropped events folded into the baseline,
subscribers that may come, go, or fail."""

from __future__ import annotations

import logging

import pytest

from statemachine import (
    BackoffPolicy,
    ConnectionLifecycle,
    ErrorKind,
    FakeClock,
    Journal,
    LinkEvent,
    LinkView,
    replay,
)


def filled(capacity: int, outages: int) -> tuple[ConnectionLifecycle, Journal]:
    """A lifecycle whose journal has seen ``outages`` drop/retry/recover rounds."""
    journal = Journal(capacity)
    lc = ConnectionLifecycle(FakeClock(), BackoffPolicy(), journal)
    lc.start_connect()
    lc.connected()
    for _ in range(outages):
        lc.error_seen(ErrorKind.CONNECTION_RESET, "reset")
        lc.disconnected("reset")
        lc.schedule_retry()
        lc.start_attempt()
        lc.connected()
    return lc, journal


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        Journal(0)


def test_keeps_the_newest_and_counts_the_dropped() -> None:
    lc, journal = filled(capacity=5, outages=3)  # 2 + 3 * 5 = 17 events
    events = journal.events()
    assert len(journal) == 5 and journal.dropped == 12
    assert [e.seq for e in events] == [13, 14, 15, 16, 17]
    assert [e.seq for e in journal.events(limit=2)] == [16, 17]
    assert journal.events(limit=0) == []
    assert len(journal.events(limit=50)) == 5
    with pytest.raises(ValueError, match="limit"):
        journal.events(limit=-1)
    assert lc.view.events_seen == 17


def test_baseline_is_the_fold_of_what_fell_off() -> None:
    full_lc, full = filled(capacity=1000, outages=3)
    lc, tiny = filled(capacity=5, outages=3)
    assert tiny.baseline == replay(full.events()[:12])
    assert tiny.baseline.events_seen == 12
    assert replay(tiny.events(), start=tiny.baseline) == lc.view == full_lc.view
    assert full.baseline == LinkView() and full.dropped == 0


def test_subscribers_get_each_event_until_unsubscribed() -> None:
    journal = Journal()
    lc = ConnectionLifecycle(FakeClock(), BackoffPolicy(), journal)
    got: list[LinkEvent] = []
    unsubscribe = journal.subscribe(got.append)
    first = lc.start_connect()
    unsubscribe()
    unsubscribe()  # idempotent
    lc.connected()
    assert got == [first]
    assert len(journal) == 2


def test_a_raising_subscriber_is_logged_and_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal(capacity=2)
    lc = ConnectionLifecycle(FakeClock(), BackoffPolicy(), journal)
    got: list[LinkEvent] = []

    def broken(event: LinkEvent) -> None:
        raise RuntimeError("subscriber bug")

    journal.subscribe(broken)
    journal.subscribe(got.append)
    with caplog.at_level(logging.ERROR, logger="statemachine.journal"):
        lc.start_connect()
        lc.connected()
    assert [e.seq for e in got] == [1, 2]  # later subscribers still called
    assert len(journal) == 2 and lc.state == "ready"
    failures = [r for r in caplog.records if r.name == "statemachine.journal"]
    assert len(failures) == 2
    assert failures[0].exc_info is not None
    assert "subscriber bug" in str(failures[0].exc_info[1])
