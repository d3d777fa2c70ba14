"""What the rest of the service may ask of a Redis link, whichever kind.

`RedisLink` talks to one master (a URL, or the one the sentinels name);
`ClusterLink` routes each key to its slot's master, one `RedisLink` per
master. The cache, health and metrics see only this.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from service.link.session import LinkListener, Request
from statemachine.projections import LinkView


class Link(Protocol):
    listener: LinkListener | None

    @property
    def enabled(self) -> bool:
        """False when running memory-only (no Redis configured)."""
        ...

    @property
    def mode(self) -> str:
        """How Redis is found: "single", "sentinel" or "cluster"."""
        ...

    @property
    def state(self) -> str:
        """The state machine's state (a cluster's: the worst of its masters')."""
        ...

    @property
    def view(self) -> LinkView:
        """The projection health and metrics read (a cluster's: combined)."""
        ...

    def is_ready(self) -> bool:
        """Cheap (read on every request): the link as a whole is ready."""
        ...

    def topology(self) -> dict[str, Any]:
        """`mode` and where the link talks to (/health/detailed)."""
        ...

    def recent_events(self, limit: int) -> tuple[int, list[dict[str, Any]]]:
        """(events dropped from the journal, the newest `limit`, oldest first)."""
        ...

    async def execute(
        self, commands: Sequence[Request], *, retries: int = 0
    ) -> list[Any] | None:
        """The replies in order, or None (Redis unavailable): never waits
        for a link that is not ready."""
        ...

    def masters(self) -> list[Link]:
        """Links whose key spaces together hold every key, for a command
        that walks a key space (SCAN): each master's in a cluster, else this one."""
        ...

    async def first_connect(self, timeout_s: float) -> None: ...

    def hurry(self) -> None:
        """A link waiting to retry retries now (each master of a cluster)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...
