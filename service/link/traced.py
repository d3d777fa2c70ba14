"""A link whose every batch of commands is an OpenTelemetry span, when tracing is on.

    link.execute(commands) ─► span "redis batch" (kind CLIENT), a child of
                              the request's server span (the current one)
                              db.system.name=redis, db.operation.name (the
                              commands' names), db.operation.batch.size,
                              roleready.redis.answered (False: unavailable)

Everything else is the wrapped link's. Installed by service.app only when
tracing is on (service.telemetry); off, the link is used unwrapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.link.interface import Link
from service.link.session import LinkListener, OptionalCommand, Request
from statemachine.projections import LinkView

SPAN_NAME = "redis batch"
MAX_NAMED_COMMANDS = 8


class TracedLink:
    """Implements `Link` by delegating to `inner`, with a span per execute."""

    def __init__(self, inner: Link, tracer: Any) -> None:
        self.inner = inner
        self._tracer = tracer
        from opentelemetry.trace import SpanKind

        self._kind = SpanKind.CLIENT

    @property
    def listener(self) -> LinkListener | None:
        return self.inner.listener

    @listener.setter
    def listener(self, listener: LinkListener | None) -> None:
        self.inner.listener = listener

    @property
    def enabled(self) -> bool:
        return self.inner.enabled

    @property
    def mode(self) -> str:
        return self.inner.mode

    @property
    def state(self) -> str:
        return self.inner.state

    @property
    def view(self) -> LinkView:
        return self.inner.view

    def is_ready(self) -> bool:
        return self.inner.is_ready()

    def topology(self) -> dict[str, Any]:
        return self.inner.topology()

    def recent_events(self, limit: int) -> tuple[int, list[dict[str, Any]]]:
        return self.inner.recent_events(limit)

    async def execute(
        self, commands: Sequence[Request], *, retries: int = 0
    ) -> list[Any] | None:
        attributes = {
            "db.system.name": "redis",
            "db.operation.name": _names(commands),
            "db.operation.batch.size": len(commands),
        }
        with self._tracer.start_as_current_span(
            SPAN_NAME, kind=self._kind, attributes=attributes
        ) as span:
            replies = await self.inner.execute(commands, retries=retries)
            span.set_attribute("roleready.redis.answered", replies is not None)
            return replies

    def masters(self) -> list[Link]:
        inner = self.inner.masters()
        if inner == [self.inner]:
            return [self]
        return [TracedLink(master, self._tracer) for master in inner]

    async def first_connect(self, timeout_s: float) -> None:
        await self.inner.first_connect(timeout_s)

    def hurry(self) -> None:
        self.inner.hurry()

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()


def _names(commands: Sequence[Request]) -> str:
    """The commands' names, in order (no keys or values: those are data)."""
    names = [_name(command) for command in commands[:MAX_NAMED_COMMANDS]]
    if len(commands) > MAX_NAMED_COMMANDS:
        names.append("...")
    return " ".join(names)


def _name(command: Request) -> str:
    args = command.args if isinstance(command, OptionalCommand) else command
    first = args[0] if args else "?"
    return (first.decode() if isinstance(first, bytes) else str(first)).upper()
