"""A Redis that is full at the reconnect (maxmemory, `noeviction`: it answers
OOM to every write) under CACHE_OUTAGE_REPLAY=write: the replayed writes it
refuses are deleted instead (DEL is allowed while Redis is out of memory),
as CACHE_OUTAGE_REPLAY=delete would, so the key reads as a miss, never as
the value the outage write replaced, and the link becomes ready. Before,
every attempt failed on the refused SET and the link never became ready.

Both ways to an outbox applied at a connect: a reconnect after an outage
(Redis paused), and a restart that applies the state file at the first
connect (which always replays in write mode)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, http_get
from scripts.harness.waiting import wait_for
from tests.conftest import FAST_LINK_ENV
from tests.integration.test_outbox_restart import REDIS_KEY, link_state, request, wait_ready
from tests.integration.test_outbox_stranded import REFUSED_LINE, fill_until_oom

StartService = Callable[..., ServiceProcess]
KEYS = ("k1", "k2")


def events(service: ServiceProcess) -> list[dict[str, Any]]:
    _, body = http_get(service.base_url + "/health/events")
    found: list[dict[str, Any]] = json.loads(body)["events"]
    return found


@pytest.mark.parametrize("way", ["reconnect", "restart"])
def test_replayed_writes_a_full_redis_refuses_are_deleted_and_the_link_gets_ready(
    service_process: StartService, redis_factory: Callable[..., RedisServer], tmp_path: Path,
    way: str,
) -> None:
    redis = redis_factory("--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
    client = redis.client()
    env = {**FAST_LINK_ENV, "REDIS_URL": redis.url, "CACHE_OUTAGE_REPLAY": "write",
           "CACHE_STATE_DIR": str(tmp_path / "state")}
    service = service_process(**env)
    wait_ready(service)
    for key in KEYS:
        assert request(service, "PUT", f"/cache/default/{key}", b"old")[1][
            "X-Cache-Stored"] == "redis"
    fill_until_oom(client)
    redis.pause()  # an outage; Redis stays full through it
    wait_for(lambda: link_state(service) != "ready", what="the link to leave ready")
    for key in KEYS:
        status, headers = request(service, "PUT", f"/cache/default/{key}", b"new")
        assert (status, headers["X-Cache-Stored"]) == (204, "memory")
    if way == "restart":  # the outage writes live on in the state file only
        assert service.process is not None
        service.kill()
        redis.resume()
        service = service_process(**env)
    else:
        redis.resume()
    wait_for(lambda: link_state(service) == "ready", timeout=10, what="the link ready")

    assert [key for key in KEYS if client.exists(REDIS_KEY.format(key))] == []
    # A reader of Redis misses (another instance would); the older value is gone.
    replayed = [e for e in events(service) if e["type"] == "OutboxReplayed"]
    assert [(e["keys"], e["refused"]) for e in replayed] == [(len(KEYS), len(KEYS))]
    # One line for the replay, not one per key.
    assert service.log().count(REFUSED_LINE) == 1
    assert link_state(service) == "ready"
