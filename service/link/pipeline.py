"""Automatic pipelining: commands issued in the same moment share one round trip.

    call(GET a) ─┐
    call(GET b) ─┼─► queue ──(next loop tick)──► one write: GET a, GET b, SET c
    call(SET c) ─┘                               replies read in order, each
                                                 resolving its caller's future

One round trip per request is what limits a Redis-backed handler (the
socket, not Redis, is the bottleneck), so concurrent requests are coalesced
the way ioredis' auto-pipelining does it. While one batch is on the wire, new
commands queue and go out together as the next batch, so a busy service sends
large batches and an idle one sends each command on the next loop tick with
no added delay. One dedicated connection carries the batches, in order.
It is never replaced: once it is lost (a failed batch leaves its protocol
position unknown), every later batch fails at once and the link builds a new
pipeline. State tied to the connection, such as client-side-caching
tracking, therefore lives exactly as long as the pipeline.

That connection is built from the client's pool settings (address, TLS,
credentials) but without a socket timeout of its own: every batch already
runs under one deadline, and redis-py's per-operation timeout would add a
timer per reply read and a task per write (~15 % of a Redis-bound request).
Batches are packed by `pack`, not redis-py's pack_commands: the same bytes
at a third of the cost.

A command's time budget (REDIS_COMMAND_TIMEOUT_MS) starts when it is queued,
not when its batch is sent: a batch's deadline is its first command's queue
time plus the budget. Behind a batch stuck on a hung server, the next batch
has already spent most of its budget waiting, so it fails right after the
stuck one instead of getting a full budget of its own, and a hung Redis
costs a request at most the budget, not twice that.

The budget detects a Redis that stopped answering, not one still sending:
each reply read is progress, and moves the deadline of the batch it
belongs to, and of the batches queued behind it, to the budget after it
(rescheduled at most once per PROGRESS_STEP_S, so a batch of small replies
never touches its timer). A batch of many large replies (a `_mget` of big
values, many GETs of them at once) therefore takes as long as its bytes
take, while the first reply of a batch sent to a hung Redis still has only
the budget from its queue time. What the budget still bounds is the
silence before a reply: one reply's own bytes, and the time Redis takes to
produce every reply of a batch, which it does before it sends the first
one. The cache keeps both small (service.cache.redis_tier reads large
values in round trips of about a MiB).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ResponseError

Command = Sequence[bytes | str | int | float]

# How stale the deadline may be behind the newest reply (see above).
PROGRESS_STEP_S = 0.001
# A bulk string's `$<length>` line, for the lengths most arguments have.
_BULK_TABLE = 1024
_BULK = [b"$%d\r\n" % size for size in range(_BULK_TABLE)]


class AutoPipeline:
    """Sends queued commands as pipelined batches on one connection."""

    def __init__(self, client: Redis, timeout_s: float) -> None:
        self.client = client
        pool = client.connection_pool
        self._connection_class = pool.connection_class
        self._connection_kwargs = {**pool.connection_kwargs, "socket_timeout": None}
        self._timeout_s = timeout_s
        self._connection: AbstractConnection | None = None
        # What ended the connection; every later batch fails with it.
        self._lost: BaseException | None = None
        self._queue: list[tuple[Command, asyncio.Future[Any]]] = []
        # Loop time at which the oldest queued command's budget runs out.
        self._deadline = 0.0
        # Loop time of the last reply read: progress (see the docstring).
        self._progress = 0.0
        self._sender: asyncio.Task[None] | None = None
        # Batches written and commands in them: what auto-pipelining saves
        # is the difference (tests hold it to that).
        self.batches_sent = 0
        self.commands_sent = 0

    async def open(self) -> None:
        """Connect now (under the caller's deadline) rather than on the first
        batch, whose budget is the command timeout, not the connect timeout."""
        await self._connect()

    def call(self, *args: bytes | str | float) -> asyncio.Future[Any]:
        """Queue one command; the future resolves to its raw reply or error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            self._deadline = loop.time() + self._timeout_s
        self._queue.append((args, future))
        if self._sender is None:
            # create_task runs on the next tick: every command queued until
            # then joins this batch.
            self._sender = asyncio.create_task(self._drain())
        return future

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        self._lost = self._fail_all(self._queue, ConnectionError("pipeline closed"))
        self._queue = []
        await self._drop_connection()

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._send(batch, max(self._deadline, self._progress + self._timeout_s))
        finally:
            self._sender = None

    async def _send(self, batch: list[tuple[Command, asyncio.Future[Any]]],
                    deadline: float) -> None:
        if deadline <= asyncio.get_running_loop().time():
            # Spent waiting behind an earlier batch: never put it on the wire.
            self._fail_all(batch, TimeoutError())
            return
        if self._lost is not None:
            # Queued behind the batch that lost the connection: its fate.
            self._fail_all(batch, self._lost)
            return
        try:
            async with asyncio.timeout_at(deadline) as timeout:
                connection = await self._connect()
                encoder = connection.encoder
                packed = pack((args for args, _ in batch), encoder.encoding,
                              encoder.encoding_errors)
                await connection.send_packed_command(packed, check_health=False)
                self.batches_sent += 1
                self.commands_sent += len(batch)
                await self._read_all(connection, batch, timeout, deadline)
        except BaseException as exc:
            # The connection's protocol position is unknown now: never reuse it.
            self._lost = self._fail_all(batch, exc)
            await self._drop_connection()
            if isinstance(exc, asyncio.CancelledError):
                raise

    async def _read_all(self, connection: AbstractConnection,
                        batch: list[tuple[Command, asyncio.Future[Any]]],
                        timeout: asyncio.Timeout, deadline: float) -> None:
        """Each reply of `batch` into its future; each one moves the
        deadline to the budget after it (within PROGRESS_STEP_S)."""
        time = asyncio.get_running_loop().time
        budget = self._timeout_s
        for _, future in batch:
            await self._read_one(connection, future)
            self._progress = now = time()
            if now + budget - deadline > PROGRESS_STEP_S:
                deadline = now + budget
                timeout.reschedule(deadline)

    @staticmethod
    async def _read_one(connection: AbstractConnection, future: asyncio.Future[Any]) -> None:
        try:
            reply = await connection.read_response()
        except ResponseError as exc:
            # An error reply belongs to its command; the stream stays in step.
            if not future.done():
                future.set_exception(exc)
            return
        # A caller that gave up (cancelled) still had its reply read above.
        if not future.done():
            future.set_result(reply)

    async def _connect(self) -> AbstractConnection:
        if self._connection is None:
            # Kept before connecting, so a failed connect is still disconnected.
            self._connection = self._connection_class(**self._connection_kwargs)
            await self._connection.connect()
        return self._connection

    async def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        with contextlib.suppress(Exception):
            await connection.disconnect(nowait=True)

    @staticmethod
    def _fail_all(
        batch: list[tuple[Command, asyncio.Future[Any]]], exc: BaseException
    ) -> BaseException:
        """Fail every future of `batch`; the exception they got."""
        if isinstance(exc, asyncio.CancelledError):
            exc = ConnectionError("pipeline closed")
        elif isinstance(exc, TimeoutError):
            exc = TimeoutError("Redis did not answer within the command timeout")
        for _, future in batch:
            if not future.done():
                future.set_exception(exc)
                # Callers that were cancelled never retrieve it; mark it seen.
                future.exception()
        return exc


def pack(commands: Iterable[Command], encoding: str, errors: str) -> bytes:
    """`commands` as RESP arrays of bulk strings, in one buffer.

    Byte for byte what redis-py's pack_commands sends for the arguments this
    service uses (str in the client's encoding, bytes as they are, int and
    float as their repr), without its general-purpose encoder and buffer
    splitting: ~1.1 instead of ~3.9 us for a GET + PTTL. An argument's
    `$<length>` line comes from a table, and UTF-8 is `str.encode()`'s own
    fast path: a `_mget`'s script of 100 keys packed in two thirds of the
    instructions that formatting each line and naming the codec took.
    """
    parts: list[bytes] = []
    append = parts.append
    bulk = _BULK
    utf8 = encoding == "utf-8" and errors == "strict"
    for args in commands:
        append(b"*%d\r\n" % len(args))
        for arg in args:
            if isinstance(arg, str):
                data = arg.encode() if utf8 else arg.encode(encoding, errors)
            elif isinstance(arg, bytes):
                data = arg
            elif type(arg) in (int, float):  # exactly: redis-py refuses bool
                data = repr(arg).encode()
            else:
                raise TypeError(f"cannot send a {type(arg).__name__} to Redis")
            size = len(data)
            append(bulk[size] if size < _BULK_TABLE else b"$%d\r\n" % size)
            append(data)
            append(b"\r\n")
    return b"".join(parts)


def mark_retrieved(futures: Iterable[asyncio.Future[Any]]) -> None:
    """Mark errors nobody will await as seen, now or when they arrive.

    When one command of a request fails, its siblings' errors are never
    awaited; without this asyncio reports "exception was never retrieved".
    """
    for future in futures:
        if future.done():
            _consume(future)
        else:
            future.add_done_callback(_consume)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
