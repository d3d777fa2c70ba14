"""The cache as one cluster master's link sees it.

A master's link reconnects on its own, while the others keep serving: its
reconnect work (the outbox replay, forgetting memory) is limited to the keys
of that master's slots, and an outbox overflow is settled only once no
other master is still away. Invalidations pass through as they are: each
master's subscriber reports its own keys.
"""

from __future__ import annotations

from collections.abc import Callable

from service.link.session import LinkListener, ReplayReport, Send


class NodeListener:
    def __init__(self, cache: LinkListener, owns: Callable[[str], bool],
                 others_ready: Callable[[], bool], *, initial: bool) -> None:
        self._cache = cache
        self._owns = owns
        self._others_ready = others_ready
        # Only a master of the first map can make the service's first
        # connect; a promoted replica's first connect ends an outage.
        self._initial = initial

    def invalidated(self, redis_keys: list[bytes] | None) -> None:
        self._cache.invalidated(redis_keys)

    async def reconnected(
        self, send: Send, first_connect: bool, *,
        owns: Callable[[str], bool] | None = None, others_ready: bool = True,
    ) -> ReplayReport | None:
        """What the master's link asks (as a single link, without `owns`):
        the cache's work for this master's keys."""
        return await self._cache.reconnected(
            send, first_connect and self._initial,
            owns=self._owns, others_ready=self._others_ready(),
        )
