"""The conductor the Redis driver calls: one method per thing that happened.

The driver (in ``service/``) does the I/O and the waiting; it tells the
lifecycle what it saw, and the lifecycle decides the transition, records the
event in the journal and folds the live view. A driver loop looks like::

    start_connect() -> connect -> connected() | error_seen(kind, msg)
    error: [disconnected(reason)] -> schedule_retry()
        BackoffScheduled -> clock.sleep(delay_s) -> start_attempt() -> ...
        GaveUp           -> clock.sleep(probe_in_s) -> start_attempt() -> ...

Which trigger a call fires, and whether it is legal, is the transition
table's answer (its conditions read this lifecycle as ``Guards``): illegal
calls raise IllegalTransition and change nothing. ``state`` is a cheap
attribute read, fit for the per-request path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict, TypeVar

from statemachine.backoff import BackoffPolicy
from statemachine.clock import Clock
from statemachine.definition import LinkMachine
from statemachine.errors import ErrorKind, drops_link
from statemachine.events import (
    BackoffScheduled,
    Closed,
    Connected,
    ConnectStarted,
    Disconnected,
    ErrorSeen,
    GaveUp,
    LinkEvent,
    MasterSwitched,
    OutboxReplayed,
    ProbeStarted,
    ReconnectStarted,
)
from statemachine.journal import Journal
from statemachine.projections import LinkView, evolve
from statemachine.states import State

__all__ = ["ConnectionLifecycle"]

# Error messages and reasons are stored in a bounded journal; bounding their
# length keeps its memory bounded too.
MAX_MESSAGE_CHARS = 500

E = TypeVar("E", bound=LinkEvent)
_READY = State.READY


class _Stamp(TypedDict):
    seq: int
    monotonic: float
    wall: float
    source: str
    dest: str


def _clip(text: str) -> str:
    text = str(text)
    return (
        text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 1] + "…"
    )


class ConnectionLifecycle:
    """Owns the machine, the journal and the live view of one Redis link."""

    def __init__(
        self, clock: Clock, policy: BackoffPolicy, journal: Journal | None = None
    ) -> None:
        self.clock = clock
        self.policy = policy
        self.journal = journal if journal is not None else Journal()
        if len(self.journal) or self.journal.dropped:
            # The machine starts in "disconnected"; a used journal would make
            # the live view and a replay of the journal disagree.
            raise ValueError("ConnectionLifecycle needs a fresh, empty Journal")
        self.view = LinkView()
        self._seq = 0
        self._machine = LinkMachine(on_record=self._record, guards=self)

    @property
    def state(self) -> str:
        return self._machine.state

    def is_ready(self) -> bool:
        # A module constant: reading an Enum member off its class runs Python
        # code, and this is asked on every Redis operation.
        return self._machine.state == _READY

    def attempt_in_flight(self) -> bool:
        """Guard: a connect, reconnect or probe has started and not ended."""
        return self.view.attempt_in_flight

    def attempts_exhausted(self) -> bool:
        """Guard: the backoff policy allows no further reconnect attempt."""
        return self.policy.exhausted(self.view.failed_attempts)

    def start_connect(self) -> ConnectStarted:
        """The first connect begins (lazily or at start-up)."""
        return self._fire("connect", lambda s: ConnectStarted(**s))

    def start_attempt(self) -> ReconnectStarted | ProbeStarted:
        """After the scheduled wait: a reconnect attempt, or a probe from failed."""
        number = self.view.failed_attempts + 1
        if self.state == State.FAILED:
            return self._fire("probe", lambda s: ProbeStarted(attempt=number, **s))
        return self._fire("attempt", lambda s: ReconnectStarted(attempt=number, **s))

    def connected(self) -> Connected:
        """The attempt in flight succeeded: ready."""
        return self._fire("succeed", lambda s: Connected(**s))

    def error_seen(self, kind: ErrorKind, message: str) -> ErrorSeen | None:
        """Record an error; the table decides what it does to the link.

        ready: a link-dropping kind fails it, others are counted.
        connecting, or reconnecting with an attempt in flight: the attempt
        failed, whatever the kind. reconnecting while waiting out a backoff,
        error, failed: counted, no change (late errors of old commands).
        disconnected and closed: ignored, returns None (there is no link;
        after close, late errors of cancelled commands are expected noise).
        """
        kind = ErrorKind(kind)
        if self.state in (State.DISCONNECTED, State.CLOSED):
            return None
        trigger = "fail" if self._machine.can("fail", kind=kind) else "note_error"
        text = _clip(message)
        dropping = drops_link(kind)
        return self._fire(
            trigger,
            lambda s: ErrorSeen(kind=kind, message=text, drops_link=dropping, **s),
            kind=kind,
        )

    def master_switched(self, old_master: str, new_master: str) -> MasterSwitched:
        """While waiting to retry (or probe): the sentinels named a new master,
        so the next attempt starts now instead of after the wait."""
        return self._fire("switch_master", lambda s: MasterSwitched(
            old_master=old_master, new_master=new_master, **s,
        ))

    def replayed(
        self, keys: int, swept_namespaces: tuple[str, ...], swept_keys: int, duration_s: float,
        unconfirmed: int = 0, refused: int = 0,
    ) -> OutboxReplayed:
        """Within the attempt in flight: the outbox was applied to Redis."""
        return self._fire("replay", lambda s: OutboxReplayed(
            keys=keys, overflow=bool(swept_namespaces), swept_namespaces=swept_namespaces,
            swept_keys=swept_keys, duration_s=duration_s, unconfirmed=unconfirmed,
            refused=refused, **s,
        ))

    def disconnected(self, reason: str) -> Disconnected:
        """The driver tore the live socket down (only in error)."""
        text = _clip(reason)
        return self._fire("drop", lambda s: Disconnected(reason=text, **s))

    def schedule_retry(self) -> BackoffScheduled | GaveUp:
        """In error: schedule the next attempt, or give up when exhausted."""
        failed = self.view.failed_attempts
        if self._machine.can("give_up"):
            probe_in = self.policy.probe_interval_s
            return self._fire(
                "give_up",
                lambda s: GaveUp(failed_attempts=failed, probe_in_s=probe_in, **s),
            )
        number = failed + 1
        delay = self.policy.delay_for(number)
        return self._fire(
            "retry", lambda s: BackoffScheduled(attempt=number, delay_s=delay, **s)
        )

    def close(self) -> Closed | None:
        """Shut the link down for good; a second close is a no-op (None)."""
        if self.state == State.CLOSED:
            return None
        return self._fire("close", lambda s: Closed(**s))

    def _fire(self, trigger: str, make: Callable[[_Stamp], E], **kwargs: object) -> E:
        def build(source: str, dest: str) -> E:
            # Stamped only once the machine accepted the trigger, so a refused
            # call consumes no sequence number.
            self._seq += 1
            stamp = _Stamp(
                seq=self._seq,
                monotonic=self.clock.monotonic(),
                wall=self.clock.wall(),
                source=source,
                dest=dest,
            )
            return make(stamp)

        return self._machine.fire(trigger, build, **kwargs)

    def _record(self, event: LinkEvent) -> None:
        # The view first: subscribers reading lifecycle.view see this event.
        self.view = evolve(self.view, event)
        self.journal.append(event)
