"""The eviction figures of /metrics against a real redis-server: the
maxmemory-policy (INFO memory), the keys evicted (INFO stats) and the keys
with a TTL (INFO keyspace), as the memory and eviction alerts read them.

One server with a maxmemory small enough to evict; CONFIG SET moves its
policy, and every name in tests/support/promql.py's MAXMEMORY_POLICIES (the
values the alert rules may match without a live series) must be one Redis
accepts and the service reports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import redis
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from tests.support.promql import MAXMEMORY_POLICIES, parse_exposition
from tests.support.waiting import ready_client

StartClient = Callable[..., Awaitable[TestClient]]
FILLER = b"x" * 64 * 1024


async def scrape(client: TestClient) -> dict[str, dict[str, set[str]]]:
    response = await client.get("/metrics")
    assert response.status == 200
    return parse_exposition(await response.text())


async def value(client: TestClient, name: str) -> float:
    response = await client.get("/metrics")
    for line in (await response.text()).splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


async def test_policy_evictions_and_expiring_keys_follow_redis(
    app_client: StartClient, redis_factory: Callable[..., RedisServer]
) -> None:
    server = redis_factory("--maxmemory", "4mb", "--maxmemory-policy", "allkeys-lru")
    # Every scrape its own probe: the figures must follow each change at once.
    client = await ready_client(app_client, server.url, REDIS_PROBE_SHARE_MS="0")
    direct = redis.Redis(port=server.port)
    try:
        exposed = await scrape(client)
        assert exposed["roleready_redis_maxmemory_policy_info"]["policy"] == {"allkeys-lru"}
        assert await value(client, "roleready_redis_evicted_keys_total") == 0
        assert await value(client, "roleready_redis_expiring_keys") == 0

        for key in ("a", "b", "c"):  # the service's values always have a TTL
            assert (await client.put(f"/cache/default/{key}", data=b"v")).status == 204
        direct.set("no-ttl", b"v")
        assert await value(client, "roleready_redis_expiring_keys") == 3

        for number in range(200):  # ~12 MB into 4 MB: allkeys-lru must evict
            direct.set(f"filler:{number}", FILLER)
        evicted = direct.info("stats")["evicted_keys"]
        assert evicted > 0
        # Redis may evict again on any later command (the probe's own
        # included) while it stays near maxmemory: the scrape's figure lies
        # between what INFO said just before and just after it.
        exposed_evicted = await value(client, "roleready_redis_evicted_keys_total")
        assert evicted <= exposed_evicted <= direct.info("stats")["evicted_keys"]

        for policy in sorted(MAXMEMORY_POLICIES):
            direct.config_set("maxmemory-policy", policy)
            exposed = await scrape(client)
            assert exposed["roleready_redis_maxmemory_policy_info"]["policy"] == {policy}
    finally:
        direct.close()
