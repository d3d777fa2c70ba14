"""Closing the link never raises, whatever await point its supervisor is at.

The defect this guards: `close()` recorded `closed` while the supervisor was
between two awaits, and the supervisor's next trigger (`retry` from
`closed`) raised IllegalTransition out of the app's shutdown. Each test
starts the close from inside one await point of the supervisor loop and,
worst case, swallows the cancellation there (as a library may), so the
supervisor resumes after the close began.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from redis.asyncio import Redis

from scripts.harness.ports import free_port
from scripts.harness.redis_server import RedisServer
from service.link.driver import RedisLink
from statemachine import BackoffPolicy, ConnectionLifecycle, FakeClock, State
from statemachine.events import Closed


class CloseOnce:
    """`await point()` starts `link.close()` the first time, then lets the
    close cancel the current task and swallows that cancellation."""

    def __init__(self) -> None:
        self.link: RedisLink | None = None
        self.closer: asyncio.Task[None] | None = None
        self.reached = asyncio.Event()

    async def point(self) -> None:
        if self.closer is not None or self.link is None:
            return
        self.closer = asyncio.create_task(self.link.close())
        self.reached.set()
        task = asyncio.current_task()
        assert task is not None
        try:
            await asyncio.sleep(0.2)  # the close runs now and cancels us
        except asyncio.CancelledError:
            task.uncancel()

    async def closed(self) -> ConnectionLifecycle:
        assert self.link is not None
        try:
            await asyncio.wait_for(self.reached.wait(), timeout=5)
        except TimeoutError:
            await self.link.close()
            raise AssertionError("the supervisor never reached the await point") from None
        assert self.closer is not None
        await asyncio.wait_for(self.closer, timeout=5)  # raises whatever close() raised
        return self.link.lifecycle


class ClosingClock(FakeClock):
    def __init__(self, at_close: CloseOnce) -> None:
        super().__init__()
        self._at_close = at_close

    async def sleep(self, seconds: float) -> None:
        await self._at_close.point()


def _link(factory: Callable[[], asyncio.Future[Redis] | object], clock: FakeClock) -> RedisLink:
    return RedisLink(
        ConnectionLifecycle(clock, BackoffPolicy()),
        factory,  # type: ignore[arg-type]
        clock=clock,
        lazy=False,
        health_check_interval_s=0.05,
        command_timeout_s=0.5,
        connect_timeout_s=1.0,
    )


def _assert_closed_cleanly(lifecycle: ConnectionLifecycle) -> None:
    assert lifecycle.state == State.CLOSED
    events = lifecycle.journal.events()
    assert isinstance(events[-1], Closed)
    assert sum(isinstance(e, Closed) for e in events) == 1


async def test_close_while_waiting_out_a_backoff() -> None:
    at_close = CloseOnce()
    port = free_port()  # nothing listens: every attempt is refused

    async def refused() -> Redis:
        return Redis(port=port)

    link = at_close.link = _link(refused, ClosingClock(at_close))
    await link.start()
    _assert_closed_cleanly(await at_close.closed())


@pytest.mark.parametrize("when", ["before_the_client", "after_the_client"])
async def test_close_while_connecting(redis_server: RedisServer, when: str) -> None:
    at_close = CloseOnce()

    async def factory() -> Redis:
        if when == "before_the_client":
            await at_close.point()
        client = Redis(port=redis_server.port)
        if when == "after_the_client":
            await at_close.point()
        return client

    link = at_close.link = _link(factory, FakeClock())
    await link.start()
    _assert_closed_cleanly(await at_close.closed())


async def test_close_while_the_dropped_link_is_being_retired(redis_server: RedisServer) -> None:
    at_close = CloseOnce()
    link = at_close.link = _link(lambda: _client(redis_server), ClosingClock(at_close))
    await link.start()
    for _ in range(200):
        if link.lifecycle.is_ready():
            break
        await asyncio.sleep(0.01)
    session = link.session()
    assert session is not None
    # The link drops; in the same loop turn the close begins, so the
    # supervisor resumes from its watch with `close` already under way.
    link.report_error(ConnectionResetError("reset"), session.generation)
    at_close.closer = asyncio.create_task(link.close())
    at_close.reached.set()
    _assert_closed_cleanly(await at_close.closed())


async def test_close_before_the_first_use_of_a_lazy_link() -> None:
    link = RedisLink(
        ConnectionLifecycle(FakeClock(), BackoffPolicy()),
        lambda: _client_on(free_port()),
        clock=FakeClock(),
        lazy=True,
        health_check_interval_s=1.0,
        command_timeout_s=0.25,
        connect_timeout_s=1.0,
    )
    await link.start()
    await link.close()
    _assert_closed_cleanly(link.lifecycle)


async def _client(server: RedisServer) -> Redis:
    return Redis(port=server.port)


async def _client_on(port: int) -> Redis:
    return Redis(port=port)
