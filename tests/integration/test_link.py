"""The link driver against real redis-server processes: the machine's path
through kill, hang, restart and late start, as the journal records it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient

from scripts.harness.ports import free_port
from scripts.harness.redis_server import RedisServer, RedisServers
from service import appkeys
from service.app import create_app
from tests.conftest import make_settings
from tests.support.waiting import eventually, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]


def _path(client: TestClient) -> list[tuple[str, str, str]]:
    events = client.app[appkeys.LINK].lifecycle.journal.events()
    return [(type(e).__name__, e.source, e.dest) for e in events]


def _states(client: TestClient) -> list[str]:
    """The sequence of distinct states entered, in order."""
    states: list[str] = []
    for _, _, dest in _path(client):
        if not states or states[-1] != dest:
            states.append(dest)
    return states


async def test_lazy_link_connects_on_first_use(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await app_client(redis_server.url)
    await asyncio.sleep(0.05)
    assert client.app[appkeys.LINK].lifecycle.state == "disconnected"
    await client.get("/cache/default/k")
    await link_state(client.app, "ready")
    assert _path(client) == [
        ("ConnectStarted", "disconnected", "connecting"),
        ("Connected", "connecting", "ready"),
    ]


async def test_kill_then_restart_reconnects_at_the_next_attempt(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    redis_server.kill()
    await link_state(client.app, "reconnecting", "failed")
    # Let at least one reconnect attempt fail against the dead port.
    lifecycle = client.app[appkeys.LINK].lifecycle
    await eventually(lambda: lifecycle.view.failed_attempts >= 1, what="a failed attempt")
    redis_server.restart()
    await link_state(client.app, "ready")
    states = _states(client)
    assert states[:4] == ["connecting", "ready", "error", "reconnecting"]
    assert states[-1] == "ready"
    kinds = {e.kind.value for e in lifecycle.journal.events() if type(e).__name__ == "ErrorSeen"}
    assert kinds <= {"connection_refused", "connection_reset", "connection", "timeout"}
    assert "connection_refused" in kinds
    assert lifecycle.view.reconnect_attempts == 0  # reset on ready
    assert lifecycle.view.reconnects_total == 1


async def test_hang_times_out_and_resume_brings_the_link_back(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    redis_server.pause()
    try:
        await link_state(client.app, "reconnecting", "error", "failed")
        lifecycle = client.app[appkeys.LINK].lifecycle
        assert lifecycle.view.last_error_kind == "timeout"
    finally:
        redis_server.resume()
    await link_state(client.app, "ready")
    assert "Disconnected" in [name for name, _, _ in _path(client)]


async def test_redis_that_starts_after_the_service(
    app_client: StartClient, redis_servers: RedisServers
) -> None:
    port = free_port()
    client = await app_client(f"redis://127.0.0.1:{port}")
    assert (await client.get("/cache/default/k")).status == 404  # wakes the link
    lifecycle = client.app[appkeys.LINK].lifecycle
    await eventually(lambda: lifecycle.view.failed_attempts >= 2, what="two failed attempts")
    redis_servers.start(port=port)
    await link_state(client.app, "ready")
    assert (await client.put("/cache/default/k", data=b"v")).status == 204


async def test_gives_up_after_the_attempt_limit_then_probes(app_client: StartClient) -> None:
    client = await app_client(
        f"redis://127.0.0.1:{free_port()}",
        REDIS_LAZY_CONNECT="false",
        REDIS_BACKOFF_BASE_MS="1",
        REDIS_BACKOFF_MAX_MS="5",
        REDIS_MAX_RECONNECT_ATTEMPTS="3",
        REDIS_RECONNECT_INTERVAL_MS="20",
    )
    lifecycle = client.app[appkeys.LINK].lifecycle
    await eventually(
        lambda: sum(1 for name, *_ in _path(client) if name == "ProbeStarted") >= 2,
        what="two probes",
    )
    names = [name for name, _, _ in _path(client)]
    assert names.count("ReconnectStarted") == 3
    first_give_up = names.index("GaveUp")
    assert names[first_give_up + 1] == "ProbeStarted"
    assert lifecycle.view.reconnect_attempts >= 5


async def test_closing_the_app_closes_the_link_and_its_tasks(redis_server: RedisServer) -> None:
    app = create_app(make_settings(redis_server.url, REDIS_LAZY_CONNECT="false"))
    from aiohttp.test_utils import TestServer

    server = TestServer(app)
    await server.start_server()
    await link_state(app, "ready")
    before = {t for t in asyncio.all_tasks() if not t.done()}
    assert any(t.get_name() == "redis-link-supervisor" for t in before)
    await server.close()
    assert app[appkeys.LINK].lifecycle.state == "closed"
    await asyncio.sleep(0)
    left = [t for t in asyncio.all_tasks() if t.get_name() == "redis-link-supervisor"]
    assert all(t.done() for t in left)
