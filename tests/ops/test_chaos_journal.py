"""scripts/soak/journal.py: legal and illegal journals, ready windows. No servers.

The journals are written as /health/events serves them (`to_dict`), and one
is made by the real lifecycle on a fake clock, so the checker is held to
what the service records, not to a hand-made idea of it.
"""

from __future__ import annotations

from typing import Any

from scripts.soak.journal import allowed_moves, check_journal, parse_journal, ready_windows
from statemachine.backoff import BackoffPolicy
from statemachine.clock import FakeClock
from statemachine.errors import ErrorKind
from statemachine.lifecycle import ConnectionLifecycle

OUTAGE = [("ConnectStarted", "disconnected", "connecting"), ("Connected", "connecting", "ready"),
          ("ErrorSeen", "ready", "error"), ("Disconnected", "error", "error"),
          ("BackoffScheduled", "error", "reconnecting"),
          ("ReconnectStarted", "reconnecting", "reconnecting"),
          ("Connected", "reconnecting", "ready")]


def served(moves: list[tuple[str, str, str]], start: float = 1.0) -> dict[str, Any]:
    """A /health/events body with one event a second."""
    events = [{"seq": i + 1, "type": t, "at": "", "monotonic": start + i, "from": s, "to": d}
              for i, (t, s, d) in enumerate(moves)]
    return {"state": moves[-1][2], "dropped": 0, "count": len(events), "events": events}


def kinds(body: dict[str, Any]) -> list[str]:
    events, dropped = parse_journal(body)
    return [v.kind for v in check_journal("a", events, dropped=dropped)]


def test_an_outage_and_recovery_is_legal() -> None:
    assert kinds(served(OUTAGE)) == []


def test_the_real_lifecycle_writes_a_legal_journal() -> None:
    clock = FakeClock()
    lifecycle = ConnectionLifecycle(clock, BackoffPolicy(max_attempts=1))
    lifecycle.start_connect()
    lifecycle.connected()
    lifecycle.error_seen(ErrorKind.CONNECTION_RESET, "reset")
    lifecycle.disconnected("reset")
    lifecycle.schedule_retry()
    lifecycle.start_attempt()
    lifecycle.error_seen(ErrorKind.CONNECTION_REFUSED, "refused")
    lifecycle.schedule_retry()  # gives up: failed
    lifecycle.start_attempt()  # a probe
    lifecycle.connected()
    lifecycle.close()
    body = {"dropped": 0, "events": [e.to_dict() for e in lifecycle.journal.events(100)]}
    states = [e["to"] for e in body["events"]]
    assert "failed" in states and states[-2:] == ["ready", "closed"]
    assert kinds(body) == []
    events, _ = parse_journal(body)
    assert kinds({**body, "events": body["events"][:-1] + body["events"][:1]}) != []
    assert len(ready_windows(events, until=clock.monotonic())) == 2


def test_a_journal_must_start_disconnected() -> None:
    assert kinds(served(OUTAGE[1:])) == ["journal_gap"]


def test_an_event_must_leave_the_state_the_previous_one_entered() -> None:
    skipped = [*OUTAGE[:2], *OUTAGE[3:]]  # error -> error without ever entering error
    assert kinds(served(skipped)) == ["journal_gap"]


def test_a_move_no_transition_allows_is_illegal() -> None:
    moves = [*OUTAGE[:2], ("Connected", "ready", "reconnecting")]
    assert kinds(served(moves)) == ["illegal_move"]
    assert ("failed", "ready") not in allowed_moves()
    assert ("reconnecting", "ready") in allowed_moves()


def test_dropped_events_and_missing_sequence_numbers_are_reported() -> None:
    body = served(OUTAGE)
    del body["events"][3]
    body["events"][3]["from"] = "error"
    assert kinds(body) == ["journal_seq"]
    assert kinds({**served(OUTAGE[2:]), "dropped": 2}) == ["journal_dropped"]


def test_ready_windows_run_from_entering_ready_to_leaving_it() -> None:
    moves = [*OUTAGE[:2], ("ErrorSeen", "ready", "ready"), *OUTAGE[2:]]
    events, _ = parse_journal(served(moves, start=10.0))
    # ready at 11 (a reflexive error at 12 keeps it), left at 13, back at 17.
    assert ready_windows(events, until=20.0) == [(11.0, 13.0), (17.0, 20.0)]
    assert ready_windows(events[:3], until=12.5) == [(11.0, 12.5)]
    assert ready_windows([], until=1.0) == []
