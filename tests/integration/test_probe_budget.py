"""The Redis probe and the observing routes are budgeted: N scrapes of
/metrics and /health/detailed a second cost Redis one probe (PING + INFO)
a second, counted with Redis's own INFO commandstats; and those routes,
with /health/events, hold at most OBSERVE_MAX_INFLIGHT requests at once
(more: 503 `overloaded`), while /health and the cache keep answering."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, http_get
from scripts.harness.waiting import wait_for
from service import appkeys
from service.http.request_layer import OBSERVE_MAX_INFLIGHT
from service.link.probe import SECTIONS
from tests.support.waiting import eventually, ready_client

StartClient = Callable[..., Awaitable[TestClient]]


def _info_calls(server: RedisServer) -> int:
    """INFO commands Redis served so far, this call's own excluded."""
    with server.client() as client:
        stats = client.info("commandstats")
    return int(stats.get("cmdstat_info", {}).get("calls", 0))


async def test_scrapes_share_one_probe_a_second(app_client: StartClient,
                                                redis_server: RedisServer) -> None:
    client = await ready_client(app_client, redis_server.url, REDIS_REPLICA_CONFIRM="off")
    before = _info_calls(redis_server)
    started = time.monotonic()
    for _ in range(3):
        answers = await asyncio.gather(*(
            client.get(path) for path in ["/metrics", "/health/detailed"] * 4))
        assert all(answer.status == 200 for answer in answers)
        detailed = await (await client.get("/health/detailed")).json()
        assert detailed["checks"]["redis"]["status"] == "healthy"
    elapsed = time.monotonic() - started
    probes = (_info_calls(redis_server) - before - 1) / len(SECTIONS)  # -1: our own INFO
    # 27 answers that each probed before; now one probe per started second.
    assert 1 <= probes <= math.ceil(elapsed) + 1, (probes, elapsed)


async def test_observing_routes_have_a_small_pool_of_their_own(
    app_client: StartClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await app_client("", HTTP_MAX_INFLIGHT="2")
    gate = asyncio.Event()
    shared = client.app[appkeys.PROBE]

    async def held() -> None:
        await gate.wait()

    monkeypatch.setattr(shared, "result", held)
    slow = [asyncio.ensure_future(client.get(path)) for path in
            ["/metrics", "/health/detailed"] * OBSERVE_MAX_INFLIGHT]
    await eventually(lambda: sum(f.done() for f in slow) >= OBSERVE_MAX_INFLIGHT,
                     what="the requests past the pool refused")
    refused = [f for f in slow if f.done()]
    assert len(refused) == OBSERVE_MAX_INFLIGHT
    for answer in (f.result() for f in refused):
        assert answer.status == 503 and (await answer.json())["error"] == "overloaded"
        assert answer.headers["Retry-After"] == "1"
    events = await client.get("/health/events")
    assert events.status == 503  # the same pool
    for path in ("/health", "/health/ready", "/api/status", "/cache/default/k"):
        assert (await client.get(path)).status in (200, 404), path
    gate.set()
    for answer in await asyncio.gather(*(f for f in slow if f not in refused)):
        assert answer.status == 200
    assert (await client.get("/health/events")).status == 200


def test_the_workers_of_an_instance_share_one_probe(
    service_process: Callable[..., ServiceProcess], redis_server: RedisServer
) -> None:
    # The confirmer sends INFO of its own once a second (REDIS_REPLICA_CONFIRM):
    # off, every INFO counted is the probe's.
    service = service_process(WORKERS="2", REDIS_URL=redis_server.url, REDIS_LAZY_CONNECT="false",
                              REDIS_REPLICA_CONFIRM="off")
    seen: set[int] = set()

    def both_ready() -> bool:  # each worker's link, by whichever answers
        status, body = http_get(service.base_url + "/api/status")
        document = json.loads(body)
        if status == 200 and document["redis"]["state"] == "ready":
            seen.add(document["process"]["worker"])
        return seen == {0, 1}

    wait_for(both_ready, what="both workers ready")
    before = _info_calls(redis_server)
    started = time.monotonic()
    for _ in range(30):  # new connections: the kernel spreads them over both workers
        assert http_get(service.base_url + "/metrics")[0] == 200
        assert http_get(service.base_url + "/health/detailed")[0] == 200
    elapsed = time.monotonic() - started
    probes = (_info_calls(redis_server) - before - 1) / len(SECTIONS)
    assert 1 <= probes <= math.ceil(elapsed) + 1, (probes, elapsed)
