"""The seven states of the Redis link, as values every module may compare with."""

from __future__ import annotations

from enum import Enum

__all__ = ["State"]


class State(str, Enum):
    """A `str` enum: `State.READY == "ready"`, and it prints as its value."""

    DISCONNECTED = "disconnected"  # initial: nothing attempted yet (lazy connect)
    CONNECTING = "connecting"  # the first attempt
    READY = "ready"
    ERROR = "error"  # an error ended a link or an attempt
    RECONNECTING = "reconnecting"  # waiting out a backoff or making a retry
    FAILED = "failed"  # gave up; probes every probe interval
    CLOSED = "closed"  # shut down deliberately; terminal
