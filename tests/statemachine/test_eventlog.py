"""Throttled error logging: 1st, 10th, 20th ... of a streak with suppressed
counts; one fallback WARNING; ready ends the streak; never ERROR."""

from __future__ import annotations

import logging

import pytest

from statemachine import (
    FALLBACK_MESSAGE,
    BackoffPolicy,
    BackoffScheduled,
    ConnectionLifecycle,
    ErrorKind,
    ErrorLogThrottle,
    FakeClock,
    Journal,
    LinkEventLogger,
)

LOGGER = "tests.statemachine.link"


def test_throttle_logs_first_tenth_twentieth() -> None:
    throttle = ErrorLogThrottle()
    decisions = [throttle.observe() for _ in range(25)]
    logged = {n + 1: d for n, d in enumerate(decisions) if d is not None}
    assert logged == {1: 0, 10: 8, 20: 9}
    throttle.reset()
    assert throttle.observe() == 0


def test_throttle_every_one_logs_everything() -> None:
    throttle = ErrorLogThrottle(every=1)
    assert [throttle.observe() for _ in range(3)] == [0, 0, 0]
    with pytest.raises(ValueError, match="every"):
        ErrorLogThrottle(every=0)


def logged_lifecycle() -> ConnectionLifecycle:
    """A fresh lifecycle whose journal feeds the throttled event logger."""
    journal = Journal()
    journal.subscribe(LinkEventLogger(logging.getLogger(LOGGER), ErrorLogThrottle()))
    return ConnectionLifecycle(FakeClock(), BackoffPolicy(), journal)


def outage_with_logger(errors: int) -> ConnectionLifecycle:
    """Ready, then a Redis outage producing ``errors`` errors (the drop, then
    one per failed attempt or probe); left in ``error``."""
    lc = logged_lifecycle()
    lc.start_connect()
    lc.connected()
    lc.error_seen(ErrorKind.CONNECTION_RESET, "Connection reset by peer")
    lc.disconnected("reset")
    for _ in range(errors - 1):
        lc.schedule_retry()
        lc.start_attempt()
        lc.error_seen(ErrorKind.CONNECTION_REFUSED, "Connection refused")
    return lc


def records(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == level
    ]


def test_streak_of_25_logs_1st_10th_20th(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    lc = outage_with_logger(errors=25)
    assert lc.view.errors_total == 25
    warnings = records(caplog, logging.WARNING)
    error_lines = [m for m in warnings if m.startswith("Redis error")]
    assert len(error_lines) == 3
    assert "[connection_reset]" in error_lines[0]
    assert "Connection reset by peer" in error_lines[0]
    assert [line.rsplit("(", 1)[1] for line in error_lines] == [
        "0 similar suppressed)",
        "8 similar suppressed)",
        "9 similar suppressed)",
    ]
    assert warnings.count(FALLBACK_MESSAGE) == 1
    # Giving up is announced once per streak, not on every failed probe.
    gave_up = [m for m in warnings if "probing every 5 s" in m]
    assert gave_up == [
        "Redis still unavailable after 10 failed attempts; probing every 5 s"
    ]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_ready_ends_the_streak(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    lc = outage_with_logger(errors=5)
    lc.schedule_retry()
    lc.start_attempt()
    lc.connected()
    assert any("Redis ready" in m for m in records(caplog, logging.INFO))
    caplog.clear()
    lc.error_seen(ErrorKind.TIMEOUT, "Timeout reading from socket")
    lines = records(caplog, logging.WARNING)
    assert lines[0].startswith("Redis error [timeout]")
    assert lines[0].endswith("(0 similar suppressed)")
    assert lines[1] == FALLBACK_MESSAGE
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_first_connect_failure_is_a_fallback_too(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    lc = logged_lifecycle()
    lc.start_connect()
    lc.error_seen(ErrorKind.CONNECTION_REFUSED, "Connection refused")
    assert records(caplog, logging.WARNING)[-1] == FALLBACK_MESSAGE


def test_reply_errors_on_a_ready_link_are_not_a_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    lc = logged_lifecycle()
    lc.start_connect()
    lc.connected()
    for _ in range(3):
        lc.error_seen(ErrorKind.WRONGTYPE, "WRONGTYPE Operation against a key")
    warnings = records(caplog, logging.WARNING)
    assert len(warnings) == 1 and "[wrongtype]" in warnings[0]


def test_other_events_log_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    lc = outage_with_logger(errors=1)
    step = lc.schedule_retry()
    assert isinstance(step, BackoffScheduled)
    debug = records(caplog, logging.DEBUG)
    assert any(m.startswith("Redis link BackoffScheduled") for m in debug)
    assert any(m.startswith("Redis link Disconnected") for m in debug)
