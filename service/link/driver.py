"""The Redis link: runs commands for the cache and keeps itself connected.

    first use (lazy) or start-up (eager)
        │
        ▼
    connect ──ok──► ready ──PING every interval, or a command's error──┐
        │             ▲                                                 │
      fails           └──────────── ok ── attempt ◄── wait out backoff ◄┤
        ▼                                                               │
      error ─────────────────────────────────────────────────────────────┘
        └─ 10 failed attempts ─► failed ── probe every REDIS_RECONNECT_INTERVAL_MS

Everything that talks to Redis goes through `execute(commands)`: it sends
the batch on the auto-pipeline's connection when the link is ready, reports
a failure (with the generation of the connection it happened on, so a late
error of a replaced connection cannot drop the new one), retries while the
link is still ready, and answers None when Redis could not: the caller then
serves from memory at once. The cache tiers and the health probe only say
what to send. The idle health PING goes through the same connection, so a
dead or hung traffic connection is noticed on an idle service too.

Each connect attempt opens a session (service.link.session: the traffic
connection, the invalidation subscriber, tracking) and, before `ready`,
lets its listener (the cache) apply what an outage left undone. The machine
(`statemachine.ConnectionLifecycle`) decides states, delays and when to
give up; the supervisor task here performs the I/O it asks for and reports
what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from service.link.classify import REDIRECTIONS, REDIS_FAILURES, classify, describe
from service.link.factory import ClientFactory
from service.link.pipeline import AutoPipeline
from service.link.session import (
    LinkListener,
    LinkSession,
    ReplayReport,
    Request,
    SessionParts,
    send_batch,
    sender,
)
from service.link.switches import MasterSwitches
from statemachine.clock import Clock
from statemachine.events import BackoffScheduled, ErrorSeen
from statemachine.lifecycle import ConnectionLifecycle
from statemachine.projections import LinkView
from statemachine.states import State

if TYPE_CHECKING:
    from service.link.interface import Link

log = logging.getLogger("roleready.redis")


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
        tracking_prefix: str | None = None,
        switches: MasterSwitches | None = None,
    ) -> None:
        self.lifecycle = lifecycle
        # Sentinel mode: announcements of a new master cut a backoff wait short.
        self._switches = switches
        self._switch_pending: tuple[str, str] | None = None
        self._switch = asyncio.Event()
        self._announced_master: str | None = None
        # Set by `hurry`: the backoff wait in progress (or the next) ends now.
        self._hurry = asyncio.Event()
        # Keys starting with this are tracked (BCAST); None: no tracking.
        self._tracking_prefix = tracking_prefix
        self.listener: LinkListener | None = None
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
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._disposals: set[asyncio.Task[None]] = set()

    @property
    def enabled(self) -> bool:
        return self._factory is not None

    @property
    def mode(self) -> str:
        """How the master is found: "sentinel" or "single" (one address)."""
        return "sentinel" if self._switches is not None else "single"

    @property
    def state(self) -> str:
        return self.lifecycle.state

    @property
    def view(self) -> LinkView:
        return self.lifecycle.view

    def is_ready(self) -> bool:
        return self.lifecycle.is_ready()

    def masters(self) -> list[Link]:
        return [self]

    def topology(self) -> dict[str, Any]:
        return {"mode": self.mode if self.enabled else "disabled", "master": self.address()}

    def recent_events(self, limit: int) -> tuple[int, list[dict[str, Any]]]:
        journal = self.lifecycle.journal
        return journal.dropped, [event.to_dict() for event in journal.events(limit)]

    def address(self) -> str | None:
        """`host:port` of the node the live session talks to, if any."""
        session = self._session
        if session is None:
            return None
        kwargs = session.client.connection_pool.connection_kwargs
        return f"{kwargs.get('host')}:{kwargs.get('port')}"

    def session(self) -> LinkSession | None:
        """The live session when the link is ready, else None (never waits)."""
        if self.lifecycle.is_ready():
            return self._session
        if self._factory is not None and not self._wake.is_set():
            self._wake.set()  # lazy connect: the first use starts the link
        return None

    async def execute(
        self, commands: Sequence[Request], *, retries: int = 0
    ) -> list[Any] | None:
        """The replies to `commands`, sent as one batch, in order; None when
        the link is not ready or the batch failed `1 + retries` times while
        it stayed ready. Never waits for a link that is not ready."""
        for _ in range(1 + retries):
            session = self.session()
            if session is None:
                return None
            try:
                return await send_batch(session.pipeline, commands)
            except REDIRECTIONS:
                raise  # a cluster's slot moved: the cluster link resends
            except REDIS_FAILURES as exc:
                self.report_error(exc, session.generation)
        return None

    async def first_connect(self, timeout_s: float) -> None:
        """Give a link that has never connected (lazy) up to `timeout_s` to
        do so; return at once otherwise. A health probe is a first use too."""
        never_connected = self.lifecycle.state in (State.DISCONNECTED, State.CONNECTING)
        if self.session() is None and self.enabled and never_connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._ready.wait()

    def report_error(self, exc: BaseException, generation: int) -> None:
        if generation != self._generation or self._closing:
            return
        event = self.lifecycle.error_seen(classify(exc), describe(exc))
        if isinstance(event, ErrorSeen) and event.source == State.READY and event.dest != State.READY:
            self._dropped.set()

    async def start(self) -> None:
        if self._factory is None:
            return
        self._task = asyncio.create_task(self._supervise(), name="redis-link-supervisor")
        if self._switches is not None:
            self._switches.start(self._master_switched)
        if not self._lazy:
            self._wake.set()

    async def close(self) -> None:
        """Stop the supervisor, then record `closed`: never raises, whatever
        await point the supervisor was at."""
        self._closing = True
        if self._switches is not None:
            await self._switches.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.lifecycle.close()
        self._retire(None)
        if self._disposals:
            await asyncio.gather(*self._disposals, return_exceptions=True)

    async def _supervise(self) -> None:
        # After each await, `_closing` is checked: a cancellation swallowed
        # by a library must not let the loop fire a trigger after close.
        await self._wake.wait()
        if self._closing:
            return
        self.lifecycle.start_connect()
        while True:
            connected = await self._attempt()
            if self._closing:
                return
            if connected:
                await self._watch()
                if self._closing:
                    return
                self._retire("link dropped after error")
            plan = self.lifecycle.schedule_retry()
            delay = plan.delay_s if isinstance(plan, BackoffScheduled) else plan.probe_in_s
            await self._wait(delay)
            if self._closing:
                return
            self.lifecycle.start_attempt()

    def hurry(self) -> None:
        """Make the next attempt now, not after the backoff or probe wait
        (shutdown asks, to learn whether Redis is back for the outbox)."""
        if self._factory is None:
            return
        self._hurry.set()
        self._wake.set()

    async def _wait(self, delay_s: float) -> None:
        """The backoff wait; cut short by `hurry`, and in Sentinel mode by a
        new master."""
        if self._switch_pending is None:
            waits = [asyncio.ensure_future(self._clock.sleep(delay_s)),
                     asyncio.ensure_future(self._hurry.wait())]
            if self._switches is not None:
                waits.append(asyncio.ensure_future(self._switch.wait()))
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for wait in waits:
                    wait.cancel()
        self._hurry.clear()
        if self._switches is None:
            return
        pending, self._switch_pending = self._switch_pending, None
        self._switch.clear()
        if pending is not None and not self._closing:
            self.lifecycle.master_switched(*pending)

    def _master_switched(self, old_master: str, new_master: str) -> None:
        """Every sentinel announces it: act once per new master."""
        if new_master == self._announced_master:
            return
        self._announced_master = new_master
        self._switch_pending = (old_master, new_master)
        self._switch.set()
        session = self._session
        if self.lifecycle.is_ready() and session is not None:
            # Still on the old master (a manual failover demotes it): drop.
            self.report_error(
                ConnectionError(f"master switched: {old_master} -> {new_master}"),
                session.generation,
            )

    async def _attempt(self) -> bool:
        """Open a session (see service.link.session) and apply the listener's
        reconnect work on it; ready when all of it answered."""
        assert self._factory is not None
        parts = SessionParts()
        try:
            async with asyncio.timeout(self._connect_timeout_s + self._command_timeout_s):
                await parts.open(self._factory, self._command_timeout_s, self._tracking_prefix)
            replay = await self._replay(parts.traffic())
        except Exception as exc:  # noqa: BLE001 - any failure to connect is a failed attempt
            self._dispose_later(parts)
            if not self._closing:
                self.lifecycle.error_seen(classify(exc), describe(exc))
            return False
        self._generation += 1
        self._session = parts.session(self._generation)
        if self._closing:
            return False
        if parts.subscriber is not None:
            generation = self._generation
            parts.subscriber.start(
                self._invalidated, lambda exc: self._subscriber_lost(exc, generation)
            )
        if replay is not None:
            self.lifecycle.replayed(
                replay.keys, replay.swept_namespaces, replay.swept_keys, replay.duration_s,
                replay.unconfirmed, replay.refused,
            )
        self.lifecycle.connected()
        self._ready.set()
        # Connected through the sentinels just now: an announcement heard
        # during the attempt is already followed, unless the attempt had
        # asked them before it and reached the old master (still accepting
        # writes after a SENTINEL FAILOVER): then the link drops and asks
        # again after the backoff (once: a stale announcement cannot loop).
        pending, self._switch_pending = self._switch_pending, None
        self._switch.clear()
        if pending is not None and pending[1] != self.address():
            self.report_error(
                ConnectionError(f"master switched: {pending[0]} -> {pending[1]}"),
                self._generation,
            )
        return True

    async def _replay(self, pipeline: AutoPipeline) -> ReplayReport | None:
        """The listener's reconnect work, on the new connection, before ready
        (each batch within the command timeout, as any batch)."""
        if self.listener is None:
            return None
        first_connect = self.lifecycle.state == State.CONNECTING
        return await self.listener.reconnected(sender(pipeline), first_connect)

    def _invalidated(self, redis_keys: list[bytes] | None) -> None:
        if self.listener is not None:
            self.listener.invalidated(redis_keys)

    def _subscriber_lost(self, exc: BaseException, generation: int) -> None:
        # Whatever ended it, the link is blind to changes now: a link drop.
        self.report_error(
            ConnectionError(f"invalidation subscriber lost: {describe(exc)}"), generation
        )

    async def _watch(self) -> None:
        """Return once the link has left `ready`; PING while it is idle."""
        self._dropped.clear()
        while self.lifecycle.is_ready() and not self._closing:
            try:
                async with asyncio.timeout(self._health_check_interval_s):
                    await self._dropped.wait()
                return
            except TimeoutError:
                await self.execute((("PING",),))

    def _retire(self, reason: str | None) -> None:
        """Forget the current client; close it in the background."""
        session, self._session = self._session, None
        self._ready.clear()
        self._generation += 1
        if reason is not None and self.lifecycle.state == State.ERROR:
            self.lifecycle.disconnected(reason)
        if session is not None:
            self._dispose_later(session.parts)

    def _dispose_later(self, parts: SessionParts) -> None:
        task = asyncio.create_task(parts.close())
        self._disposals.add(task)
        task.add_done_callback(self._disposals.discard)
