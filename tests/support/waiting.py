"""Wait for a condition inside an event loop, without fixed sleeps (in-process
apps); outside one, `scripts/harness/waiting.py`'s `wait_for`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.test_utils import TestClient

from service import appkeys
from statemachine.clock import Clock


async def eventually(check: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


async def eventually_async(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = ""
) -> None:
    """`eventually` for a check that must await (a Redis query)."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


async def link_state(app: web.Application, *states: str, timeout: float = 10.0) -> str:
    """Wait until the app's Redis link is in one of `states`; return it."""
    link = app[appkeys.LINK]
    await eventually(lambda: link.state in states, timeout, f"link state in {states}")
    return link.state


async def ready_client(
    app_client: Callable[..., Awaitable[TestClient]], redis_url: str,
    clock: Clock | None = None, **env: str,
) -> TestClient:
    """An in-process app that connects at start-up, once its link is ready."""
    client = await app_client(redis_url, clock=clock, REDIS_LAZY_CONNECT="false", **env)
    await link_state(client.app, "ready")
    return client
