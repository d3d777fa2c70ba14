"""The invalidation subscriber: Redis's own client-side-caching messages.

    traffic connection: CLIENT TRACKING on REDIRECT <subscriber id> BCAST PREFIX <prefix>: NOLOOP
    subscriber (RESP2): SUBSCRIBE __redis__:invalidate
        ◄── message [key, key, ...]   a key under the prefix changed: written,
                                      deleted, expired or evicted, by anyone
        ◄── message None              FLUSHDB / FLUSHALL

Every change to a key under the prefix reaches every instance this way,
writes made straight into Redis by another program included. NOLOOP keeps
this instance's own writes (all sent on the tracking connection, the
auto-pipeline's) from coming back: it updated its memory tier itself.

RESP2 on purpose: redirected invalidations arrive as ordinary pub/sub
messages there, while redis-py's asyncio client does not hand RESP3 push
messages to a reader (measured with redis-py 8). Tracking lives and dies with the tracking
connection, and messages sent while this connection is down are lost: the
link treats the subscriber's loss as its own drop, and the cache forgets
what it held at every reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection

CHANNEL = b"__redis__:invalidate"
# The keys of one message, or None for a flush.
Invalidated = Callable[[list[bytes] | None], None]


class InvalidationSubscriber:
    """One RESP2 connection subscribed to the invalidation channel."""

    def __init__(self, client: Redis) -> None:
        pool = client.connection_pool
        kwargs: dict[str, Any] = {**pool.connection_kwargs, "socket_timeout": None, "protocol": 2}
        self._connection: AbstractConnection = pool.connection_class(**kwargs)
        self._reader: asyncio.Task[None] | None = None
        self.client_id = -1

    async def open(self) -> int:
        """Connect, learn this connection's client id, subscribe; the id."""
        connection = self._connection
        await connection.connect()
        await connection.send_command("CLIENT", "ID")
        self.client_id = int(await connection.read_response())
        await connection.send_command("SUBSCRIBE", CHANNEL)
        confirmation = await connection.read_response()
        if not (isinstance(confirmation, list) and confirmation[:1] == [b"subscribe"]):
            raise ConnectionError(f"unexpected answer to SUBSCRIBE: {confirmation!r}")
        return self.client_id

    def start(self, on_message: Invalidated, on_error: Callable[[BaseException], None]) -> None:
        """Deliver every message to `on_message` until the connection fails;
        then call `on_error` once (the link drops)."""
        self._reader = asyncio.create_task(self._read(on_message, on_error),
                                           name="redis-invalidation-subscriber")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(Exception):
            await self._connection.disconnect(nowait=True)

    async def _read(self, on_message: Invalidated, on_error: Callable[[BaseException], None]) -> None:
        try:
            while True:
                message = await self._connection.read_response()
                if isinstance(message, list) and len(message) == 3 and message[0] == b"message":
                    if message[1] == CHANNEL:
                        on_message(message[2])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure ends the subscription
            on_error(exc)
