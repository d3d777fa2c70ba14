"""The supervisor that drives the connection state machine with real I/O.

    first use (lazy) or start-up (eager)
        │
        ▼
    connect ──ok──► ready ──PING every interval, or a command's error──┐
        │             ▲                                                 │
      fails           └──────────── ok ── attempt ◄── wait out backoff ◄┤
        ▼                                                               │
      error ─────────────────────────────────────────────────────────────┘
        └─ 10 failed attempts ─► failed ── probe every REDIS_RECONNECT_INTERVAL_MS

The machine (`statemachine.ConnectionLifecycle`) decides states, delays and
when to give up; this module only performs the I/O it asks for and reports
what happened. Cache operations read `session()` and never wait on it: when
the link is not ready they get None and serve from memory at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from redis.asyncio import Redis

from service.link.classify import REDIS_FAILURES, classify, describe
from service.link.factory import ClientFactory
from service.link.pipeline import AutoPipeline
from statemachine.clock import Clock
from statemachine.events import BackoffScheduled, ErrorSeen
from statemachine.lifecycle import ConnectionLifecycle

log = logging.getLogger("roleready.redis")

# How long a retired client may take to close before we stop waiting for it:
# closing a socket to a hung (SIGSTOPped) server must not hold anything up.
DISPOSE_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class LinkSession:
    """A connected client, its auto-pipeline, and the generation they belong to.

    Errors are reported with their generation so that a late failure of a
    command sent on an already replaced client cannot drop the new link.
    """

    client: Redis
    pipeline: AutoPipeline
    generation: int


class RedisLink:
    """Owns the Redis client and the background task that keeps it connected."""

    def __init__(
        self,
        lifecycle: ConnectionLifecycle,
        factory: ClientFactory | None,
        *,
        clock: Clock,
        lazy: bool,
        health_check_interval_s: float,
        command_timeout_s: float,
        connect_timeout_s: float,
    ) -> None:
        self.lifecycle = lifecycle
        self._factory = factory
        self._clock = clock
        self._lazy = lazy
        self._health_check_interval_s = health_check_interval_s
        self._command_timeout_s = command_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._session: LinkSession | None = None
        self._generation = 0
        self._wake = asyncio.Event()
        self._dropped = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._disposals: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self._factory is not None

    def session(self) -> LinkSession | None:
        """The live session when the link is ready, else None (never waits)."""
        if self.lifecycle.state == "ready":
            return self._session
        if self._factory is not None and not self._wake.is_set():
            self._wake.set()  # lazy connect: the first use starts the link
        return None

    async def first_session(self, timeout_s: float) -> LinkSession | None:
        """Like `session()`, but a link that has never connected (lazy) gets
        up to `timeout_s` to do so: a health probe is a first use too."""
        session = self.session()
        never_connected = self.lifecycle.state in ("disconnected", "connecting")
        if session is None and self.enabled and never_connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._ready.wait()
            session = self.session()
        return session

    def report_error(self, exc: BaseException, generation: int) -> None:
        if generation != self._generation or self.lifecycle.state == "closed":
            return
        event = self.lifecycle.error_seen(classify(exc), describe(exc))
        if isinstance(event, ErrorSeen) and event.source == "ready" and event.dest != "ready":
            self._dropped.set()

    async def start(self) -> None:
        if self._factory is None:
            return
        self._task = asyncio.create_task(self._supervise(), name="redis-link-supervisor")
        if not self._lazy:
            self._wake.set()

    async def close(self) -> None:
        if self.lifecycle.state != "closed":
            self.lifecycle.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._retire(None)
        if self._disposals:
            await asyncio.gather(*self._disposals, return_exceptions=True)

    async def _supervise(self) -> None:
        await self._wake.wait()
        self.lifecycle.start_connect()
        while True:
            if await self._attempt():
                await self._watch()
                self._retire("link dropped after error")
            plan = self.lifecycle.schedule_retry()
            delay = plan.delay_s if isinstance(plan, BackoffScheduled) else plan.probe_in_s
            await self._clock.sleep(delay)
            self.lifecycle.start_attempt()

    async def _attempt(self) -> bool:
        assert self._factory is not None
        try:
            async with asyncio.timeout(self._connect_timeout_s + self._command_timeout_s):
                client = await self._factory()
        except Exception as exc:  # noqa: BLE001 - any failure to connect is a failed attempt
            self.lifecycle.error_seen(classify(exc), describe(exc))
            return False
        self._generation += 1
        pipeline = AutoPipeline(client, self._command_timeout_s)
        self._session = LinkSession(client, pipeline, self._generation)
        self.lifecycle.connected()
        self._ready.set()
        return True

    async def _watch(self) -> None:
        """Return once the link has left `ready`; PING while it is idle."""
        self._dropped.clear()
        while self.lifecycle.state == "ready":
            try:
                async with asyncio.timeout(self._health_check_interval_s):
                    await self._dropped.wait()
                return
            except TimeoutError:
                await self._ping()

    async def _ping(self) -> None:
        session = self._session
        if session is None:
            return
        try:
            async with asyncio.timeout(self._command_timeout_s):
                await session.client.ping()
        except REDIS_FAILURES as exc:
            self.report_error(exc, session.generation)

    def _retire(self, reason: str | None) -> None:
        """Forget the current client; close it in the background."""
        session, self._session = self._session, None
        self._ready.clear()
        self._generation += 1
        if reason is not None and self.lifecycle.state == "error":
            self.lifecycle.disconnected(reason)
        if session is not None:
            task = asyncio.create_task(self._dispose(session))
            self._disposals.add(task)
            task.add_done_callback(self._disposals.discard)

    async def _dispose(self, session: LinkSession) -> None:
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            async with asyncio.timeout(DISPOSE_TIMEOUT_S):
                await session.pipeline.close()
                await session.client.aclose()
