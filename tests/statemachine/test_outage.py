"""Whole outages driven the way the service driver will drive them: a small
simulated driver loop sleeping on the fake clock (so 2 minutes take
microseconds), with exact delays and event sequences asserted."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from statemachine import (
    BackoffPolicy,
    BackoffScheduled,
    Connected,
    ConnectionLifecycle,
    ConnectStarted,
    Disconnected,
    ErrorKind,
    ErrorSeen,
    FakeClock,
    GaveUp,
    LinkEvent,
    ProbeStarted,
    ReconnectStarted,
)

REFUSED = "Error 111 connecting to localhost:6379. Connection refused."
EXPECTED_DELAYS = [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]


async def drive_outage(
    lc: ConnectionLifecycle, clock: FakeClock, *, up_at: int | None, probes: int = 3
) -> None:
    """From ``error``: wait, attempt, and fail until attempt ``up_at`` connects
    (never if None; then stop after ``probes`` failed probes, in ``failed``)."""
    while True:
        step = lc.schedule_retry()
        if isinstance(step, GaveUp):
            if step.failed_attempts >= lc.policy.max_attempts + probes:
                return
            await clock.sleep(step.probe_in_s)
        else:
            await clock.sleep(step.delay_s)
        started = lc.start_attempt()
        if started.attempt == up_at:
            lc.connected()
            return
        lc.error_seen(ErrorKind.CONNECTION_REFUSED, REFUSED)


def begin_outage(lc: ConnectionLifecycle, start: str) -> list[type[LinkEvent]]:
    """Put ``lc`` into ``error`` the way an outage starts; return the event
    types that led there."""
    lc.start_connect()
    if start == "first_connect":
        lc.error_seen(ErrorKind.CONNECTION_REFUSED, REFUSED)
        return [ConnectStarted, ErrorSeen]
    lc.connected()
    lc.error_seen(ErrorKind.CONNECTION_RESET, "Connection reset by peer")
    lc.disconnected("connection reset")
    return [ConnectStarted, Connected, ErrorSeen, Disconnected]


@pytest.mark.parametrize("start", ["first_connect", "ready_link_lost"])
async def test_redis_that_never_returns(
    lifecycle: ConnectionLifecycle, clock: FakeClock, start: str
) -> None:
    prefix = begin_outage(lifecycle, start)
    await drive_outage(lifecycle, clock, up_at=None, probes=3)

    assert clock.sleeps == [*EXPECTED_DELAYS, 5.0, 5.0, 5.0]
    assert clock.monotonic() == sum(EXPECTED_DELAYS) + 15.0
    events = lifecycle.journal.events()
    assert [type(e) for e in events] == [
        *prefix,
        *[BackoffScheduled, ReconnectStarted, ErrorSeen] * 10,
        *[GaveUp, ProbeStarted, ErrorSeen] * 3,
        GaveUp,
    ]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))

    scheduled = [e for e in events if isinstance(e, BackoffScheduled)]
    assert [(e.attempt, e.delay_s) for e in scheduled] == list(
        zip(range(1, 11), EXPECTED_DELAYS, strict=True)
    )
    started = [e for e in events if isinstance(e, ReconnectStarted)]
    assert [e.attempt for e in started] == list(range(1, 11))
    # Each attempt starts exactly its delay after it was scheduled.
    assert [
        s.monotonic - b.monotonic for b, s in zip(scheduled, started, strict=True)
    ] == (EXPECTED_DELAYS)
    gave_up = [e for e in events if isinstance(e, GaveUp)]
    assert [(e.failed_attempts, e.probe_in_s) for e in gave_up] == [
        (10, 5.0),
        (11, 5.0),
        (12, 5.0),
        (13, 5.0),
    ]
    assert [e.attempt for e in events if isinstance(e, ProbeStarted)] == [11, 12, 13]
    assert all(e.source == "reconnecting" and e.dest == "error" for e in events[-5::3])

    view = lifecycle.view
    assert lifecycle.state == "failed" and view.state == "failed"
    assert (view.failed_attempts, view.reconnect_attempts) == (13, 13)
    assert view.errors_total == 14
    assert view.last_error == REFUSED and view.last_error_kind == "connection_refused"
    assert view.last_error_time == clock.wall()
    assert view.next_retry_in_s == 5.0
    assert view.reconnects_total == 0
    assert not lifecycle.is_ready()


@pytest.mark.parametrize("k", [1, 3, 10, 12])
async def test_redis_that_returns_at_attempt_k(
    lifecycle: ConnectionLifecycle, clock: FakeClock, k: int
) -> None:
    begin_outage(lifecycle, "ready_link_lost")
    await drive_outage(lifecycle, clock, up_at=k)

    # Attempts past the limit are probes, 5 s apart.
    expected = [
        BackoffPolicy().delay_for(n) if n <= 10 else 5.0 for n in range(1, k + 1)
    ]
    assert clock.sleeps == expected
    last = lifecycle.journal.events()[-1]
    assert isinstance(last, Connected)
    assert (last.source, last.dest) == ("reconnecting", "ready")
    view = lifecycle.view
    assert lifecycle.is_ready() and view.state == "ready"
    assert (view.failed_attempts, view.reconnect_attempts) == (0, 0)
    assert view.reconnects_total == 1 and view.ready_total == 2
    assert view.last_ready_time == clock.wall()
    assert view.errors_total == k  # the drop, then k - 1 failed attempts
    assert view.next_retry_in_s is None

    # The counter really reset: the next outage starts again at 1 s.
    lifecycle.error_seen(ErrorKind.TIMEOUT, "Timeout reading from socket")
    step = lifecycle.schedule_retry()
    assert isinstance(step, BackoffScheduled)
    assert (step.attempt, step.delay_s) == (1, 1.0)


def test_readonly_on_ready_link_drops_it(lifecycle: ConnectionLifecycle) -> None:
    lifecycle.start_connect()
    lifecycle.connected()
    message = "READONLY You can't write against a read only replica."
    seen = lifecycle.error_seen(ErrorKind.READONLY, message)
    assert isinstance(seen, ErrorSeen)
    assert (seen.source, seen.dest, seen.drops_link) == ("ready", "error", True)
    assert not lifecycle.is_ready()

    gone = lifecycle.disconnected("node demoted to replica")
    assert (gone.source, gone.dest, gone.reason) == (
        "error",
        "error",
        "node demoted to replica",
    )
    step = lifecycle.schedule_retry()
    assert isinstance(step, BackoffScheduled)
    assert (step.source, step.dest, step.attempt, step.delay_s) == (
        "error",
        "reconnecting",
        1,
        1.0,
    )
    assert [type(e) for e in lifecycle.journal.events()[-3:]] == [
        ErrorSeen,
        Disconnected,
        BackoffScheduled,
    ]
    assert lifecycle.view.last_error_kind == "readonly"
    assert lifecycle.view.next_retry_at == lifecycle.clock.monotonic() + 1.0


@pytest.mark.parametrize(
    "kind", [ErrorKind.WRONGTYPE, ErrorKind.OOM, ErrorKind.RESPONSE]
)
def test_reply_errors_on_ready_link_are_counted_only(
    lifecycle: ConnectionLifecycle, kind: ErrorKind
) -> None:
    lifecycle.start_connect()
    lifecycle.connected()
    first = lifecycle.error_seen(kind, f"{kind.value.upper()} something")
    second = lifecycle.error_seen(kind, "again")
    assert first is not None and second is not None
    assert (first.source, first.dest, first.drops_link) == ("ready", "ready", False)
    assert lifecycle.is_ready()
    assert lifecycle.view.errors_total == 2
    assert lifecycle.view.last_error == "again"
    assert lifecycle.view.last_error_kind == kind.value
    assert lifecycle.view.failed_attempts == 0


def test_late_error_during_backoff_wait_does_not_fail_an_attempt(
    lifecycle: ConnectionLifecycle,
) -> None:
    lifecycle.start_connect()
    lifecycle.connected()
    lifecycle.error_seen(ErrorKind.CONNECTION_RESET, "reset")
    scheduled = lifecycle.schedule_retry()
    # A command that was in flight when the link died reports late.
    late = lifecycle.error_seen(ErrorKind.TIMEOUT, "Timeout reading from socket")
    assert late is not None and (late.source, late.dest) == (
        "reconnecting",
        "reconnecting",
    )
    assert lifecycle.view.failed_attempts == 0
    started = lifecycle.start_attempt()
    assert isinstance(scheduled, BackoffScheduled)
    assert isinstance(started, ReconnectStarted)
    assert started.attempt == scheduled.attempt == 1


def test_error_during_first_connect_fails_it_whatever_the_kind(
    lifecycle: ConnectionLifecycle,
) -> None:
    lifecycle.start_connect()
    seen = lifecycle.error_seen(ErrorKind.OOM, "OOM command not allowed")
    assert seen is not None
    assert (seen.source, seen.dest, seen.drops_link) == ("connecting", "error", False)
    # The first connect is not a reconnect attempt: the next one is number 1.
    step = lifecycle.schedule_retry()
    assert isinstance(step, BackoffScheduled) and step.attempt == 1


@pytest.mark.parametrize("position", ["error", "failed"])
def test_late_errors_in_error_and_failed_are_noted(
    make_lifecycle: Callable[[str], ConnectionLifecycle], position: str
) -> None:
    lc = make_lifecycle(position)
    before = lc.view
    seen = lc.error_seen(ErrorKind.CONNECTION, "late")
    assert seen is not None and seen.source == seen.dest == position
    assert lc.state == position
    assert lc.view.errors_total == before.errors_total + 1
    assert lc.view.failed_attempts == before.failed_attempts
