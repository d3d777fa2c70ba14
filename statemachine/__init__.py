"""The Redis connection lifecycle, pure: events, machine, backoff, projections.

Imports only the standard library and ``transitions``; time comes from an
injected ``Clock``. The driver in ``service/`` does the I/O and calls
``ConnectionLifecycle``.
"""

from statemachine.backoff import BackoffPolicy
from statemachine.clock import Clock, FakeClock, iso_utc
from statemachine.definition import TRANSITIONS, Guards, IllegalTransition
from statemachine.errors import RECONNECT_KINDS, ErrorKind, drops_link
from statemachine.eventlog import FALLBACK_MESSAGE, LinkEventLogger
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
from statemachine.lifecycle import ConnectionLifecycle
from statemachine.projections import LinkView, evolve, replay
from statemachine.states import State
from statemachine.throttle import ErrorLogThrottle

__all__ = [
    "FALLBACK_MESSAGE",
    "RECONNECT_KINDS",
    "TRANSITIONS",
    "BackoffPolicy",
    "BackoffScheduled",
    "Clock",
    "Closed",
    "ConnectStarted",
    "Connected",
    "ConnectionLifecycle",
    "Disconnected",
    "ErrorKind",
    "ErrorLogThrottle",
    "ErrorSeen",
    "FakeClock",
    "GaveUp",
    "Guards",
    "IllegalTransition",
    "Journal",
    "LinkEvent",
    "LinkEventLogger",
    "LinkView",
    "MasterSwitched",
    "OutboxReplayed",
    "ProbeStarted",
    "ReconnectStarted",
    "State",
    "drops_link",
    "evolve",
    "iso_utc",
    "replay",
]
