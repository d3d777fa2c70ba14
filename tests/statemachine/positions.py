"""Where a lifecycle can be, and the shortest legal path to get there (shared
by the state machine tests; plain functions, no fixtures)."""

from __future__ import annotations

from statemachine import ConnectionLifecycle, ErrorKind, GaveUp

# Where a lifecycle can be. "reconnecting" is split: waiting out a backoff and
# with an attempt in flight accept different calls.
POSITIONS = (
    "disconnected",
    "connecting",
    "ready",
    "error",
    "reconnecting_waiting",
    "reconnecting_attempting",
    "failed",
    "closed",
)


def drive_to(lc: ConnectionLifecycle, position: str) -> None:
    """Drive ``lc`` (fresh) along the shortest legal path to ``position``."""
    if position == "disconnected":
        return
    if position == "closed":
        lc.close()
        return
    lc.start_connect()
    if position == "connecting":
        return
    if position == "ready":
        lc.connected()
        return
    lc.error_seen(ErrorKind.CONNECTION_REFUSED, "Connection refused")
    if position == "error":
        return
    if position == "failed":
        while not isinstance(lc.schedule_retry(), GaveUp):
            lc.start_attempt()
            lc.error_seen(ErrorKind.CONNECTION_REFUSED, "Connection refused")
        return
    lc.schedule_retry()
    if position == "reconnecting_attempting":
        lc.start_attempt()
