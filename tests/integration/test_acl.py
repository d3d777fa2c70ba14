"""The service as a Redis user with exactly the ACL the documentation gives.

The `ACL SETUSER roleready ...` line is read from docs/high-availability.md,
so the documentation and the test cannot drift apart. Without +info the
health probe must still agree with the state machine: healthy, memoryUsed
null, no error counted, however often it is scraped.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from tests.support.markdown import ROOT
from tests.support.waiting import ready_client

StartClient = Callable[..., Awaitable[TestClient]]
HIGH_AVAILABILITY = ROOT / "docs" / "high-availability.md"
PASSWORD = "acl-test-pw"


def documented_acl() -> list[str]:
    match = re.search(r"^\s+(ACL SETUSER roleready .+)$", HIGH_AVAILABILITY.read_text(), re.MULTILINE)
    assert match is not None, "docs/high-availability.md documents no ACL SETUSER line"
    return match.group(1).replace("PASSWORD", PASSWORD).split()


def create_user(server: RedisServer, name: str = "roleready", without: str | None = None) -> str:
    """The documented user (renamed `name`, less the `without` rule), and its URL."""
    rule = [name if part == "roleready" else part for part in documented_acl()]
    if without is not None:
        rule.remove(without)
    with server.client() as admin:
        assert admin.execute_command(*rule) == b"OK"
    return f"redis://{name}:{PASSWORD}@127.0.0.1:{server.port}"


async def test_main_paths_work_with_exactly_the_documented_acl(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    url = create_user(redis_server)
    writer = await ready_client(app_client, url)
    reader = await ready_client(app_client, url)
    assert (await writer.put("/cache/default/k", data=b"v")).status == 204
    got = await reader.get("/cache/default/k")
    assert (got.status, got.headers["X-Cache"], await got.read()) == (200, "hit-redis", b"v")
    assert (await writer.delete("/cache/default/k")).status == 204
    miss = await app_client(url, CACHE_LRU_MAX_ITEMS="0")
    assert (await miss.get("/cache/default/k")).status == 404
    detailed = await (await writer.get("/health/detailed")).json()
    assert detailed["status"] == "healthy"
    assert detailed["checks"]["redis"]["memoryUsed"] is not None
    assert (await writer.get("/metrics")).status == 200
    for client in (writer, reader):
        assert client.app[appkeys.LINK].lifecycle.view.errors_total == 0


async def test_a_user_without_info_is_healthy_with_no_memory_figure(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    url = create_user(redis_server, without="+info")
    client = await ready_client(app_client, url)
    for _ in range(3):
        detailed = await (await client.get("/health/detailed")).json()
        assert detailed["status"] == "healthy"
        redis = detailed["checks"]["redis"]
        assert (redis["status"], redis["connectionStatus"], redis["memoryUsed"]) == (
            "healthy", "ready", None,
        )
        assert (await client.get("/metrics")).status == 200
    assert client.app[appkeys.LINK].lifecycle.view.errors_total == 0
    # And INFO really is refused to this user.
    with redis_server.client() as admin:
        assert admin.execute_command("ACL", "DRYRUN", "roleready", "INFO", "memory") != b"OK"
