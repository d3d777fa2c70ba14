"""Tasks and sockets stay bounded across many reconnects: every connection
the link opens (traffic, subscriber) is closed with its session."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from tests.support.waiting import eventually, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
CYCLES = 50


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.slow
async def test_fifty_reconnects_leave_no_tasks_or_sockets_behind(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    link = client.app[appkeys.LINK]
    await client.put("/cache/default/k", data=b"v")
    tasks_before, fds_before = len(asyncio.all_tasks()), _open_fds()
    with redis_server.client() as admin:
        for cycle in range(1, CYCLES + 1):
            # Only the traffic connection: the subscriber's, still healthy,
            # must be closed by the link itself when it retires the session.
            replies = await link.execute((("CLIENT", "ID"),))
            assert replies is not None
            assert admin.execute_command("CLIENT", "KILL", "ID", replies[0]) == 1
            await eventually(lambda c=cycle: link.lifecycle.view.reconnects_total == c,
                             what=f"reconnect {cycle}")
            await link_state(client.app, "ready")
    assert (await client.get("/cache/default/k")).status == 200
    await eventually(lambda: len(asyncio.all_tasks()) <= tasks_before + 5, what="tasks settle")
    assert _open_fds() <= fds_before + 5
