"""What one connect attempt opens, and the link's contracts with its users.

    factory() ─► client (configuration; opens nothing itself)
      ─► the traffic connection: the auto-pipeline's, PINGed
      ─► the invalidation subscriber (RESP2), and CLIENT TRACKING on the
         traffic connection redirected to it (service.link.subscriber)

All of it is one `LinkSession`: it becomes ready together and is closed
together; tracking lives and dies with the traffic connection, so neither
part outlives the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import OutOfMemoryError, ResponseError

from service.link.factory import ClientFactory
from service.link.pipeline import AutoPipeline, Command, mark_retrieved
from service.link.subscriber import InvalidationSubscriber

# How long a retired session may take to close before we stop waiting for it:
# closing a socket to a hung (SIGSTOPped) server must not hold anything up.
DISPOSE_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class OptionalCommand:
    """A command whose error reply (for example refused by an ACL) is answered
    as None instead of failing its batch, and is not counted as an error."""

    args: Command


@dataclass(frozen=True, slots=True)
class RefusableWrite(OptionalCommand):
    """A write whose refusal for lack of memory (an OOM reply: maxmemory
    under `noeviction`) is answered as that OutOfMemoryError instead of
    failing its batch, and is not counted as an error; any other error
    fails the batch as usual. The outbox's replay deletes such a key
    instead: DEL is allowed while Redis is out of memory."""


Request = Command | OptionalCommand


# Runs commands on a new connection within a connect attempt (before ready).
Send = Callable[[Sequence[Sequence[Any]]], Awaitable[list[Any]]]


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a listener applied to Redis at reconnect (journalled)."""

    keys: int
    swept_namespaces: tuple[str, ...]
    swept_keys: int
    duration_s: float
    # Of the keys and swept namespaces: writes no replica had confirmed.
    unconfirmed: int = 0
    # Of the keys: writes Redis refused for lack of memory, deleted instead.
    refused: int = 0


class LinkListener(Protocol):
    """What the cache hears from the link (see service.link.subscriber)."""

    def invalidated(self, redis_keys: list[bytes] | None) -> None: ...

    async def reconnected(
        self, send: Send, first_connect: bool, *,
        owns: Callable[[str], bool] | None = None, others_ready: bool = True,
    ) -> ReplayReport | None:
        """Within each connect attempt, before `ready`: apply what the
        outage left undone through `send`; raising fails the attempt.
        `first_connect`: the link has never been ready before.
        A cluster's master (service.link.cluster) reaches only some keys:
        `owns(redis_key)` tells which, and `others_ready` whether it is the
        last master to come back."""
        ...


@dataclass
class SessionParts:
    """What an attempt has opened so far: all of it is closed on failure."""

    client: Redis | None = None
    pipeline: AutoPipeline | None = None
    subscriber: InvalidationSubscriber | None = None

    async def open(
        self, factory: ClientFactory, command_timeout_s: float, tracking_prefix: str | None
    ) -> None:
        """Open every part; keys under `tracking_prefix` are tracked (None: none)."""
        self.client = await factory()
        self.pipeline = AutoPipeline(self.client, command_timeout_s)
        await self.pipeline.open()
        if tracking_prefix is not None:
            self.subscriber = InvalidationSubscriber(self.client)
            subscriber_id = await self.subscriber.open()
            await self.pipeline.call(
                "CLIENT", "TRACKING", "on", "REDIRECT", subscriber_id,
                "BCAST", "PREFIX", tracking_prefix, "NOLOOP",
            )
        await self.pipeline.call("PING")

    def traffic(self) -> AutoPipeline:
        assert self.pipeline is not None, "not opened"
        return self.pipeline

    def session(self, generation: int) -> LinkSession:
        assert self.client is not None and self.pipeline is not None, "not opened"
        return LinkSession(self.client, self.pipeline, self.subscriber, generation, self)

    async def close(self) -> None:
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            async with asyncio.timeout(DISPOSE_TIMEOUT_S):
                if self.subscriber is not None:
                    await self.subscriber.close()
                if self.pipeline is not None:
                    await self.pipeline.close()
                if self.client is not None:
                    await self.client.aclose()


@dataclass(frozen=True, slots=True)
class LinkSession:
    """A connected client, its auto-pipeline (the tracking connection), its
    invalidation subscriber, and the generation they belong to."""

    client: Redis
    pipeline: AutoPipeline
    subscriber: InvalidationSubscriber | None
    generation: int
    parts: SessionParts


async def send_batch(pipeline: AutoPipeline, commands: Sequence[Request]) -> list[Any]:
    """`commands` as one batch on `pipeline`: their replies in order, or the
    first failure (every other reply then marked as seen)."""
    futures = [
        oom_as_reply(pipeline.call(*c.args)) if isinstance(c, RefusableWrite)
        else none_on_error(pipeline.call(*c.args)) if isinstance(c, OptionalCommand)
        else pipeline.call(*c)
        for c in commands
    ]
    replies: list[Any] = []
    try:
        # A plain loop: an async comprehension is a coroutine of its own.
        for future in futures:
            replies.append(await future)
    except BaseException:
        mark_retrieved(futures)
        raise
    return replies


def sender(pipeline: AutoPipeline) -> Send:
    """`Send` on `pipeline` (the listener's reconnect work, before ready)."""
    return functools.partial(send_batch, pipeline)


def none_on_error(future: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """A future that settles as `future` does, but with None for an error reply."""
    return _tolerant(future, ResponseError, lambda error: None)


def oom_as_reply(future: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """A future that settles as `future` does, but with the OutOfMemoryError
    itself as the answer to an OOM reply."""
    return _tolerant(future, OutOfMemoryError, lambda error: error)


def _tolerant(future: asyncio.Future[Any], tolerated: type[BaseException],
              answer: Callable[[BaseException], Any]) -> asyncio.Future[Any]:
    tolerant: asyncio.Future[Any] = future.get_loop().create_future()

    def settle(done: asyncio.Future[Any]) -> None:
        if tolerant.done():
            return
        if done.cancelled():
            tolerant.cancel()
            return
        error = done.exception()
        if isinstance(error, tolerated):
            tolerant.set_result(answer(error))
        elif error is not None:
            tolerant.set_exception(error)
        else:
            tolerant.set_result(done.result())

    future.add_done_callback(settle)
    return tolerant
