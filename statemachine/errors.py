"""The kinds of Redis failure the lifecycle distinguishes.

The driver classifies each exception once, at the boundary, into an
``ErrorKind``; from then on only the kind matters. ``RECONNECT_KINDS`` is the
one place that decides which errors mean the link is gone.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["RECONNECT_KINDS", "ErrorKind", "drops_link"]


class ErrorKind(str, Enum):
    """What went wrong, as far as the connection lifecycle cares."""

    READONLY = "readonly"  # the node was demoted to a replica
    CONNECTION_REFUSED = "connection_refused"
    CONNECTION_RESET = "connection_reset"
    TIMEOUT = "timeout"  # connect, socket or per-command timeout
    CONNECTION = "connection"  # any other loss of the connection
    AUTH = "auth"
    OOM = "oom"
    WRONGTYPE = "wrongtype"
    RESPONSE = "response"  # any other error reply from the server


RECONNECT_KINDS: frozenset[ErrorKind] = frozenset(
    {
        ErrorKind.READONLY,
        ErrorKind.CONNECTION_REFUSED,
        ErrorKind.CONNECTION_RESET,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION,
        # Credentials rotated under a live link: keep going through the
        # reconnect path rather than hammering the server with bad AUTHs.
        ErrorKind.AUTH,
    }
)


def drops_link(kind: ErrorKind) -> bool:
    """True when an error of this kind means a live link must be replaced."""
    return ErrorKind(kind) in RECONNECT_KINDS
