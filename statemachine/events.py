"""What happened to the Redis link, as immutable past-tense events.

Every transition of the connection machine produces exactly one of these.
Each carries its sequence number, when it happened (monotonic for intervals,
wall for people) and the state it left (``source``) and entered (``dest``);
``source == dest`` marks something noted without a change of state.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import Enum

from statemachine.clock import iso_utc
from statemachine.errors import ErrorKind

__all__ = [
    "BackoffScheduled",
    "Closed",
    "ConnectStarted",
    "Connected",
    "Disconnected",
    "ErrorSeen",
    "GaveUp",
    "LinkEvent",
    "MasterSwitched",
    "OutboxReplayed",
    "ProbeStarted",
    "ReconnectStarted",
]

# Base fields are rendered under their own keys ("at", "from", "to"), so
# to_dict leaves them out of the event's own fields.
_BASE_FIELDS = frozenset({"seq", "monotonic", "wall", "source", "dest"})


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkEvent:
    """Common envelope of every lifecycle event."""

    seq: int
    monotonic: float
    wall: float
    source: str
    dest: str

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready mapping, as served by /health/events."""
        out: dict[str, object] = {
            "seq": self.seq,
            "type": type(self).__name__,
            "at": iso_utc(self.wall),
            "monotonic": self.monotonic,
            "from": self.source,
            "to": self.dest,
        }
        for field in fields(self):
            if field.name in _BASE_FIELDS:
                continue
            value = getattr(self, field.name)
            out[field.name] = value.value if isinstance(value, Enum) else value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectStarted(LinkEvent):
    """The first connect began (lazily on first use, or at start-up)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReconnectStarted(LinkEvent):
    """Reconnect attempt ``attempt`` began, after its backoff wait."""

    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeStarted(LinkEvent):
    """A slow retry began from ``failed``, after the probe interval."""

    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Connected(LinkEvent):
    """The link answered: the machine is ``ready``."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorSeen(LinkEvent):
    """An error was observed.

    ``drops_link`` is the kind's classification (would it drop a live link);
    whether the state changed is told by ``source``/``dest``: an error that
    fails a connect attempt moves to ``error`` whatever its kind.
    """

    kind: ErrorKind
    message: str
    drops_link: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterSwitched(LinkEvent):
    """The sentinels announced a new master while the link waited to retry:
    the wait is cut short and the next attempt goes to ``new_master`` now
    (the backoff still governs attempts that fail)."""

    old_master: str
    new_master: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboxReplayed(LinkEvent):
    """Within a connect attempt, before ``ready``: the writes and deletes made
    while Redis was unreachable were applied to it (``keys`` of them), or,
    the outbox having overflowed, every key of ``swept_namespaces`` was
    deleted (``swept_keys`` of them). ``unconfirmed`` of the keys and
    namespaces were writes the master had acknowledged but no replica had
    confirmed (they may have been lost to a failover). ``refused`` of the
    keys were writes Redis refused for lack of memory (OOM under
    ``noeviction``): they were deleted instead."""

    keys: int
    overflow: bool
    swept_namespaces: tuple[str, ...]
    swept_keys: int
    duration_s: float
    unconfirmed: int = 0
    refused: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected(LinkEvent):
    """The live socket was torn down after a link-dropping error."""

    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BackoffScheduled(LinkEvent):
    """Reconnect attempt ``attempt`` will start after ``delay_s`` seconds."""

    attempt: int
    delay_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class GaveUp(LinkEvent):
    """Too many failed attempts: the machine is ``failed`` and probes slowly."""

    failed_attempts: int
    probe_in_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Closed(LinkEvent):
    """The service shut the link down deliberately; nothing follows."""
