"""Views of the link folded from its events.

``LinkView`` is never mutated: ``evolve`` returns the next view for one event
and ``replay`` folds a sequence. The live view held by the lifecycle and a
replay of the journal are therefore the same computation, which a property
test checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from statemachine.events import (
    BackoffScheduled,
    Closed,
    Connected,
    ConnectStarted,
    ErrorSeen,
    GaveUp,
    LinkEvent,
    MasterSwitched,
    OutboxReplayed,
    ProbeStarted,
    ReconnectStarted,
)
from statemachine.states import State

__all__ = ["LinkView", "evolve", "replay"]


@dataclass(frozen=True)
class LinkView:
    """The link as the health endpoints and the backoff policy see it.

    ``reconnect_attempts`` counts attempts (probes included) since the last
    ready; ``failed_attempts`` counts the failed ones, which is what the
    policy reads. Neither counts the very first connect. ``next_retry_in_s``
    is the wait announced by the last schedule (not a countdown);
    ``next_retry_at`` is the monotonic time it ends.
    """

    state: str = State.DISCONNECTED
    reconnect_attempts: int = 0
    failed_attempts: int = 0
    last_error: str | None = None
    last_error_kind: str | None = None
    last_error_time: float | None = None
    errors_total: int = 0
    reconnects_total: int = 0
    ready_total: int = 0
    last_ready_time: float | None = None
    next_retry_in_s: float | None = None
    next_retry_at: float | None = None
    # True from the start of a connect/reconnect/probe until it succeeds or
    # fails: it tells a late error during a backoff wait (merely counted)
    # from the failure of an attempt.
    attempt_in_flight: bool = False
    events_seen: int = 0
    # Outbox replays at reconnect, keys they applied, and overflows (sweeps).
    # The master the sentinels last announced (Sentinel mode), and how often.
    master: str | None = None
    master_switches_total: int = 0
    replays_total: int = 0
    replayed_keys_total: int = 0
    outbox_overflows_total: int = 0
    # Of the replayed keys (and swept namespaces): unconfirmed writes.
    replayed_unconfirmed_total: int = 0


def _started(view: LinkView, *, reconnect: bool) -> LinkView:
    return replace(
        view,
        reconnect_attempts=view.reconnect_attempts + (1 if reconnect else 0),
        attempt_in_flight=True,
        next_retry_in_s=None,
        next_retry_at=None,
    )


def _errored(view: LinkView, event: ErrorSeen) -> LinkView:
    failed_reconnect = event.source == State.RECONNECTING and event.dest == State.ERROR
    ends_attempt = event.source != event.dest
    return replace(
        view,
        errors_total=view.errors_total + 1,
        last_error=event.message,
        last_error_kind=event.kind.value,
        last_error_time=event.wall,
        failed_attempts=view.failed_attempts + (1 if failed_reconnect else 0),
        attempt_in_flight=view.attempt_in_flight and not ends_attempt,
    )


def _connected(view: LinkView, event: Connected) -> LinkView:
    return replace(
        view,
        reconnect_attempts=0,
        failed_attempts=0,
        ready_total=view.ready_total + 1,
        reconnects_total=view.reconnects_total
        + (1 if event.source == State.RECONNECTING else 0),
        last_ready_time=event.wall,
        attempt_in_flight=False,
    )


def _waiting(view: LinkView, event: LinkEvent, delay_s: float) -> LinkView:
    return replace(
        view, next_retry_in_s=delay_s, next_retry_at=event.monotonic + delay_s
    )


def evolve(view: LinkView, event: LinkEvent) -> LinkView:
    """The view after ``event``."""
    if isinstance(event, ConnectStarted):
        view = _started(view, reconnect=False)
    elif isinstance(event, ReconnectStarted | ProbeStarted):
        view = _started(view, reconnect=True)
    elif isinstance(event, ErrorSeen):
        view = _errored(view, event)
    elif isinstance(event, Connected):
        view = _connected(view, event)
    elif isinstance(event, BackoffScheduled):
        view = _waiting(view, event, event.delay_s)
    elif isinstance(event, GaveUp):
        view = _waiting(view, event, event.probe_in_s)
    elif isinstance(event, MasterSwitched):
        view = replace(
            view, master=event.new_master, master_switches_total=view.master_switches_total + 1,
            next_retry_in_s=None, next_retry_at=None,
        )
    elif isinstance(event, OutboxReplayed):
        view = replace(
            view,
            replays_total=view.replays_total + 1,
            replayed_keys_total=view.replayed_keys_total + event.keys,
            outbox_overflows_total=view.outbox_overflows_total + int(event.overflow),
            replayed_unconfirmed_total=view.replayed_unconfirmed_total + event.unconfirmed,
        )
    elif isinstance(event, Closed):
        view = replace(
            view, attempt_in_flight=False, next_retry_in_s=None, next_retry_at=None
        )
    # Disconnected changes no counter: the error that caused it was counted.
    return replace(view, state=event.dest, events_seen=view.events_seen + 1)


def replay(events: Iterable[LinkEvent], start: LinkView = LinkView()) -> LinkView:
    """Fold ``events`` onto ``start`` (a journal's baseline when it dropped some)."""
    view = start
    for event in events:
        view = evolve(view, event)
    return view
