"""Sentinel mode against real processes: one master, one replica, three
sentinels (quorum 2). The service asks the sentinels for the master on every
connect attempt, so when the master dies and the replica is promoted, the
link's reconnect lands on the new master. The setup is the shared
`sentinel_setup` fixture (scripts/harness/sentinel.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient

from scripts.harness.sentinel import SentinelSetup
from service import appkeys
from tests.support.waiting import eventually, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]


async def _serving_port(client: TestClient) -> int:
    replies = await client.app[appkeys.LINK].execute((("CONFIG", "GET", "port"),))
    assert replies is not None
    reply = replies[0]  # a map in RESP3, a flat list in RESP2
    return int(reply[b"port"] if isinstance(reply, dict) else reply[1])


async def test_a_killed_master_is_followed_to_the_promoted_replica(
    app_client: StartClient, sentinel_setup: SentinelSetup
) -> None:
    master, replica = sentinel_setup.master, sentinel_setup.replica
    env = sentinel_setup.env()
    a = await ready_client(app_client, env.pop("REDIS_URL"), **env)
    b = await ready_client(app_client, "redis://127.0.0.1:1/0", **env)
    assert await _serving_port(a) == master.port
    killed_at = time.monotonic()
    master.kill()
    statuses: set[int] = set()

    def promoted() -> bool:
        with replica.client() as client:
            return client.info("replication")["role"] == "master"

    while not promoted():  # steady mixed load through both instances
        statuses.add((await a.put("/cache/default/during", data=b"x")).status)
        statuses.add((await b.get("/cache/default/during")).status)
        assert time.monotonic() - killed_at < 15, "no promotion within 15 s"
        await asyncio.sleep(0.1)
    for client in (a, b):
        await eventually(lambda c=client: c.app[appkeys.LINK].lifecycle.is_ready()
                         and c.app[appkeys.LINK].lifecycle.view.reconnects_total >= 1,
                         timeout=15, what="ready again")
        assert await _serving_port(client) == replica.port
    ready_s = time.monotonic() - killed_at
    print(f"kill -> ready on the new master: {ready_s:.2f} s")
    assert ready_s < 15
    assert all(status < 500 for status in statuses)
    put = await a.put("/cache/default/after", data=b"new-master")
    assert put.headers["X-Cache-Stored"] == "redis"
    got = await b.get("/cache/default/after")
    assert (got.headers["X-Cache"], await got.read()) == ("hit-redis", b"new-master")
    # The old master comes back as a replica: nothing breaks, nobody moves back.
    master.restart()
    await asyncio.sleep(0.5)
    assert (await a.get("/cache/default/after")).status == 200
    await link_state(a.app, "ready")
    assert await _serving_port(a) == replica.port


async def test_a_wrong_master_name_is_a_clear_error_and_memory_only_service(
    app_client: StartClient, sentinel_setup: SentinelSetup
) -> None:
    env = sentinel_setup.env()
    env["REDIS_SENTINEL_MASTER"] = "no-such-master"
    client = await app_client(env.pop("REDIS_URL"), REDIS_LAZY_CONNECT="false", **env)
    link = client.app[appkeys.LINK]
    await eventually(lambda: link.lifecycle.view.last_error is not None, what="an error")
    assert "no-such-master" in (link.lifecycle.view.last_error or "")
    assert (await client.put("/cache/default/k", data=b"v")).status == 204
    assert (await client.get("/cache/default/k")).headers["X-Cache"] == "hit-memory"


async def test_the_switch_announcement_cuts_the_production_backoff_short(
    app_client: StartClient, sentinel_setup: SentinelSetup
) -> None:
    master, replica = sentinel_setup.master, sentinel_setup.replica
    env = sentinel_setup.env()
    # The guide's backoff (1, 2, 4, 8 s), not the tests' fast one.
    production = {"REDIS_BACKOFF_BASE_MS": "1000", "REDIS_BACKOFF_MAX_MS": "10000",
                  "REDIS_HEALTH_CHECK_INTERVAL_MS": "1000"}
    a = await ready_client(app_client, env.pop("REDIS_URL"), **env, **production)
    link = a.app[appkeys.LINK]
    killed_at = time.monotonic()
    master.kill()
    await eventually(lambda: link.lifecycle.view.master_switches_total >= 1, timeout=15,
                     what="the +switch-master announcement followed")
    await eventually(link.lifecycle.is_ready, timeout=15, what="ready on the new master")
    print(f"kill -> ready on the new master (production backoff): "
          f"{time.monotonic() - killed_at:.2f} s")
    assert await _serving_port(a) == replica.port
    switched = [e for e in link.lifecycle.journal.events() if type(e).__name__ == "MasterSwitched"]
    assert switched[0].to_dict()["old_master"] == f"127.0.0.1:{master.port}"
    assert switched[0].to_dict()["new_master"] == f"127.0.0.1:{replica.port}"
    assert link.lifecycle.view.master == f"127.0.0.1:{replica.port}"
    topology = (await (await a.get("/health/detailed")).json())["checks"]["redis"]["topology"]
    assert topology == {"mode": "sentinel", "master": f"127.0.0.1:{replica.port}"}
