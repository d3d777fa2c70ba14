"""The sync and the async Python client behind one awaitable surface, so each
behaviour test runs against both twins (the sync one in a worker thread)."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from roleready_cache_client import AsyncClient, Client

Kind = str  # "sync" | "async"
KINDS = ("sync", "async")


class Twin:
    def __init__(self, client: Client | AsyncClient) -> None:
        self.client = client
        self.protocol = client.protocol

    def blocking(self, compute: Callable[[], Any]) -> Callable[[], Any]:
        """A blocking compute function as this twin should be given it: the
        async client awaits it in a thread (it would stall the loop), the
        sync client calls it in its own thread."""
        if isinstance(self.client, AsyncClient):
            return lambda: asyncio.to_thread(compute)
        return compute

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.client, name)
        if isinstance(self.client, AsyncClient):
            return method  # type: ignore[no-any-return]

        async def in_thread(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(functools.partial(method, *args, **kwargs))
        return in_thread


@asynccontextmanager
async def twins(kind: Kind) -> AsyncIterator[Callable[..., Twin]]:
    """`make(url, namespace=..., token=...)` for clients of `kind`, closed at the end."""
    made: list[Client | AsyncClient] = []

    def make(url: str, namespace: str = "default", **options: Any) -> Twin:
        client = (Client if kind == "sync" else AsyncClient)(url, namespace, **options)
        made.append(client)
        return Twin(client)

    try:
        yield make
    finally:
        for client in made:
            if isinstance(client, AsyncClient):
                await client.close()
            else:
                client.close()
