"""The outbox applied while the link stays ready, and once more at shutdown.

    every backoff delay (statemachine's BackoffPolicy: 1, 2, 4 ... s, reset
    once applied) while the link is ready and the outbox holds something
        ─► replay through the ready link (CACHE_OUTAGE_REPLAY), in a cluster
           each master its own keys
    shutdown, after the drain ─► the same, within SHUTDOWN_TIMEOUT_MS; a
        link waiting out a backoff first retries at once (`hurry`), so a
        Redis that came back meanwhile still receives the outbox
        ─► what is still owed: kept in the state file, or dropped (one line
           saying how many and of which namespaces)

A reconnect applies the outbox before `ready`, but an error reply leaves
the link up: OOM under `noeviction`, a script's error. A write refused that
way waits in the outbox while the link stays ready, and no reconnect may
ever come; without this timer other instances would keep reading the value
it replaced. The timer never runs while the link is away (the reconnect
does it then) and keeps no state of its own besides its attempt count.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from service.cache.durable_outbox import DurableOutbox
from service.cache.tags import replay as replay_tags
from service.cache.two_tier import TwoTierCache
from service.link.classify import REDIS_FAILURES
from service.link.cluster import ClusterLink
from service.link.interface import Link
from service.link.session import ReplayReport, Send
from statemachine.backoff import BackoffPolicy
from statemachine.clock import Clock
from statemachine.eventlog import REFUSED_WRITES

log = logging.getLogger("roleready.cache")
# How often shutdown looks whether the hurried attempt is over.
SHUTDOWN_POLL_S = 0.05


class NotApplied(Exception):
    """Redis did not carry out a replay batch (the link answered None)."""


NOT_APPLIED: tuple[type[BaseException], ...] = (NotApplied, *REDIS_FAILURES)


class OutboxTimer:
    def __init__(self, cache: TwoTierCache, link: Link, policy: BackoffPolicy, clock: Clock,
                 mode: str) -> None:
        self._cache = cache
        self._link = link
        self._policy = policy
        self._clock = clock
        self._mode = mode
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.applied = 0  # replays made by this timer (and at shutdown)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-timer")

    async def _run(self) -> None:
        outbox = self._cache.outbox
        assert outbox is not None
        while True:
            # Idle until something is owed: a timer that polled would keep
            # the process (and an injected clock) busy for nothing.
            await outbox.recorded.wait()
            outbox.recorded.clear()
            failed = 0
            # While the link is down its reconnect applies the outbox (before
            # `ready`); the timer is for what is owed while it stays up.
            while self._owed() and self._link.is_ready():
                await self._clock.sleep(self._policy.delay_for(failed + 1) if failed
                                        else self._policy.base_s)
                if not self._link.is_ready():
                    break
                try:
                    applied = await self.apply()
                except Exception:  # a timer that died would strand the outbox again
                    log.exception("outbox timer: replay failed unexpectedly")
                    applied = False
                failed = 0 if applied else failed + 1

    def _owed(self) -> bool:
        outbox = self._cache.outbox
        return outbox is not None and bool(len(outbox) or outbox.namespaces() or outbox.tags)

    async def apply(self) -> bool:
        """One replay of what is owed through the ready link; True when all
        of it reached Redis."""
        outbox, redis = self._cache.outbox, self._cache.redis
        if outbox is None or redis is None:
            return True
        async with self._lock:
            targets = _targets(self._link)
            try:
                for index, (send, owns) in enumerate(targets):
                    # Tag invalidations first, as at a reconnect (at shutdown:
                    # those no replica had confirmed, adopted from the held).
                    await replay_tags(self._cache, send, owns)
                    report = await outbox.replay(
                        send, redis, self._cache.memory, self._mode, owns=owns,
                        others_ready=index == len(targets) - 1,
                    )
                    self._applied(report)
            except NOT_APPLIED:  # a redirection, in a cluster, is one of REDIS_FAILURES
                return False
        return not self._owed()

    def _applied(self, report: ReplayReport | None) -> None:
        if report is None:
            return
        self.applied += 1
        log.info("outbox applied while the link stayed up: %d keys, %d namespaces swept",
                 report.keys, len(report.swept_namespaces))
        if report.refused:
            log.warning(REFUSED_WRITES, report.refused, extra={"refused": report.refused})

    async def close(self, timeout_s: float) -> None:
        """Stop the timer; apply what is owed within `timeout_s`; say what
        is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if not self._owed():
            return
        durable = isinstance(self._cache.outbox, DurableOutbox)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._reachable()
                if self._link.is_ready():
                    await self.apply()
        self._report_left(durable)

    async def _reachable(self) -> None:
        """A link waiting out a backoff retries at once; returns when it is
        ready, or when that attempt failed (Redis is not reachable). The
        reconnect itself applies the outbox, before `ready`."""
        if self._link.is_ready():
            return
        # Any failed attempt (a first connect, a reconnect, a probe once the
        # link gave up) is an error seen: counting those tells it ended.
        errors = self._link.view.errors_total
        self._link.hurry()
        while not self._link.is_ready() and self._link.view.errors_total <= errors:
            await self._clock.sleep(SHUTDOWN_POLL_S)

    def _report_left(self, durable: bool) -> None:
        outbox = self._cache.outbox
        if outbox is None or not self._owed():
            log.info("shutdown: the outbox reached Redis, nothing is left owed")
            return
        namespaces = ", ".join(sorted(outbox.namespaces() | {
            f"{name.partition(':')[0]} (tag invalidations)" for name in outbox.tags}))
        if durable:
            assert isinstance(outbox, DurableOutbox)
            log.warning("shutdown: %d outage writes (namespaces: %s) did not reach Redis; "
                        "kept in %s for the next start", len(outbox), namespaces,
                        outbox.state.path)
        else:
            log.warning("shutdown: %d outage writes dropped (namespaces: %s): Redis did "
                        "not take them and no CACHE_STATE_DIR keeps them", len(outbox),
                        namespaces)


def _targets(link: Link) -> list[tuple[Send, Callable[[str], bool] | None]]:
    """Where a replay goes: the link, or each master of a cluster with its
    own keys (one master per replay keeps each batch on one connection, in
    order with the requests' own writes)."""
    if not isinstance(link, ClusterLink):
        return [(_sender(link), None)]
    slots = link.slots
    return [(_sender(node), _owner(slots.master_of, name)) for name, node in link.nodes.items()]


def _owner(master_of: Callable[[str], str | None], name: str) -> Callable[[str], bool]:
    return lambda redis_key: master_of(redis_key) == name


def _sender(link: Any) -> Send:
    async def send(batch: Sequence[Sequence[Any]]) -> list[Any]:
        replies = await link.execute(batch)
        if replies is None:
            raise NotApplied
        return list(replies)
    return send
