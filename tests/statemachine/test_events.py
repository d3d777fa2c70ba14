"""Events: immutable, past tense, and rendered for /health/events; the one
place that decides which error kinds drop a link."""

from __future__ import annotations

import dataclasses
import json

import pytest

from statemachine import (
    RECONNECT_KINDS,
    BackoffScheduled,
    Closed,
    ErrorKind,
    ErrorSeen,
    GaveUp,
    drops_link,
)

WALL = 1_795_667_345.123  # 2026-11-26T04:29:05.123Z


def make_error() -> ErrorSeen:
    return ErrorSeen(
        seq=7,
        monotonic=42.5,
        wall=WALL,
        source="ready",
        dest="error",
        kind=ErrorKind.READONLY,
        message="READONLY You can't write against a read only replica.",
        drops_link=True,
    )


def test_to_dict_renders_envelope_and_own_fields() -> None:
    assert make_error().to_dict() == {
        "seq": 7,
        "type": "ErrorSeen",
        "at": "2026-11-26T04:29:05.123Z",
        "monotonic": 42.5,
        "from": "ready",
        "to": "error",
        "kind": "readonly",
        "message": "READONLY You can't write against a read only replica.",
        "drops_link": True,
    }


def test_to_dict_is_json_ready() -> None:
    event = BackoffScheduled(
        seq=1, monotonic=0.0, wall=WALL, source="error", dest="reconnecting",
        attempt=3, delay_s=4.0,
    )  # fmt: skip
    assert json.loads(json.dumps(event.to_dict()))["delay_s"] == 4.0
    closed = Closed(seq=2, monotonic=1.0, wall=WALL, source="ready", dest="closed")
    assert set(closed.to_dict()) == {"seq", "type", "at", "monotonic", "from", "to"}


def test_events_are_frozen_slotted_and_keyword_only() -> None:
    event = make_error()
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.seq = 8  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
    with pytest.raises(TypeError):
        GaveUp(1, 0.0, WALL, "error", "failed", 10, 5.0)  # type: ignore[call-arg]


def test_reconnect_kinds_are_the_link_dropping_ones() -> None:
    assert {
        ErrorKind.READONLY,
        ErrorKind.CONNECTION_REFUSED,
        ErrorKind.CONNECTION_RESET,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
        ErrorKind.AUTH,
    } == RECONNECT_KINDS
    assert [k for k in ErrorKind if drops_link(k)] == sorted(
        RECONNECT_KINDS, key=list(ErrorKind).index
    )
    for kind in (ErrorKind.OOM, ErrorKind.WRONGTYPE, ErrorKind.RESPONSE):
        assert not drops_link(kind)


def test_error_kinds_are_their_string_values() -> None:
    assert ErrorKind("connection_refused") is ErrorKind.CONNECTION_REFUSED
    assert ErrorKind.TIMEOUT == "timeout"
