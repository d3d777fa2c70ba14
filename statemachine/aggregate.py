"""One view of several links: a Redis Cluster has one state machine per master.

Health reports the cluster as a whole: its state is the worst of its links'
(one master down is a degraded cluster, whatever the others do), its
counters are their sums, its last error the newest of theirs. Pure: the
same folds as `projections`, one level up.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from statemachine.projections import LinkView
from statemachine.states import State

__all__ = ["SEVERITY", "combined", "worst_state"]

# From best to worst. `closed` is last: a closed link serves nothing.
SEVERITY: tuple[State, ...] = (
    State.READY,
    State.DISCONNECTED,
    State.CONNECTING,
    State.RECONNECTING,
    State.ERROR,
    State.FAILED,
    State.CLOSED,
)
_RANK = {state: rank for rank, state in enumerate(SEVERITY)}


def worst_state(states: Iterable[str]) -> State:
    """The worst of `states`; `disconnected` when there are none (nothing
    has been attempted yet)."""
    ranked = [State(s) for s in states]
    return max(ranked, key=_RANK.__getitem__, default=State.DISCONNECTED)


def combined(views: Sequence[LinkView]) -> LinkView:
    """The links' views as one: worst state, summed counters, newest error,
    the largest attempt counts (the link furthest into its backoff) and the
    soonest retry."""
    if not views:
        return LinkView()
    errored = [v for v in views if v.last_error_time is not None]
    newest = max(errored, key=lambda v: v.last_error_time or 0.0, default=None)
    retries = [v for v in views if v.next_retry_at is not None]
    soonest = min(retries, key=lambda v: v.next_retry_at or 0.0, default=None)
    ready_times = [v.last_ready_time for v in views if v.last_ready_time is not None]
    return LinkView(
        state=worst_state(v.state for v in views),
        reconnect_attempts=max(v.reconnect_attempts for v in views),
        failed_attempts=max(v.failed_attempts for v in views),
        last_error=newest.last_error if newest else None,
        last_error_kind=newest.last_error_kind if newest else None,
        last_error_time=newest.last_error_time if newest else None,
        errors_total=sum(v.errors_total for v in views),
        reconnects_total=sum(v.reconnects_total for v in views),
        ready_total=sum(v.ready_total for v in views),
        last_ready_time=max(ready_times, default=None),
        next_retry_in_s=soonest.next_retry_in_s if soonest else None,
        next_retry_at=soonest.next_retry_at if soonest else None,
        attempt_in_flight=any(v.attempt_in_flight for v in views),
        events_seen=sum(v.events_seen for v in views),
        master_switches_total=sum(v.master_switches_total for v in views),
        replays_total=sum(v.replays_total for v in views),
        replayed_keys_total=sum(v.replayed_keys_total for v in views),
        outbox_overflows_total=sum(v.outbox_overflows_total for v in views),
    )
