"""The clients' tests run against the real service: one fleet for the package
(a redis-server and two service processes on it, a bearer token, a default
namespace and a stale-while-revalidate one) and one instance whose Redis was
killed (degraded answers; HTTP_MAX_INFLIGHT=1, so `overloaded` can be
provoked). The Python and the Node client's tests share both, so each
process starts once; tests use keys of their own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, http_get
from scripts.harness.waiting import wait_for
from tests.conftest import FAST_LINK_ENV

TOKEN = "client-test-token"
LEASE_DURATION_MS = 1500
FLEET_ENV = {
    **FAST_LINK_ENV,
    "CACHE_API_TOKEN": TOKEN,
    "CACHE_DEFAULT_TTL_MS": "60000",
    # Values live 300 ms, then are served stale for 30 s while one caller refreshes.
    "CACHE_SWR_TTL_MS": "300",
    "CACHE_SWR_STALE_MS": "30000",
    # Purged by the purge tests only: a purge of a namespace other tests use
    # would empty it under them (the Node files run side by side).
    "CACHE_PURGED_TTL_MS": "60000",
    # A lease not filled is taken over after this: the takeover test waits for it.
    "CACHE_LEASE_DURATION_MS": str(LEASE_DURATION_MS),
    # So small that every batch read of more than one value comes in parts:
    # the clients' mget must continue with the keys an answer left unread.
    "CACHE_BATCH_MAX_ANSWER_BYTES": "4",
}


@dataclass(frozen=True)
class Fleet:
    redis: RedisServer
    services: list[ServiceProcess]

    @property
    def urls(self) -> list[str]:
        return [service.base_url for service in self.services]


def unique(prefix: str) -> str:
    """A key no other test (or earlier run on the same Redis) uses."""
    return f"{prefix}:{secrets.token_hex(4)}"


def _health(url: str) -> str:
    status, body = http_get(url + "/health/detailed", token=TOKEN)
    return body.decode() if status == 200 else ""


def _healthy(service: ServiceProcess) -> ServiceProcess:
    service.start()
    wait_for(lambda: '"status":"healthy"' in _health(service.base_url), 15,
             "the service's link to Redis")
    return service


@dataclass(frozen=True)
class Instances:
    fleet: Fleet
    down: Fleet


@pytest.fixture(scope="package")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instances]:
    """Both set-ups, their three service processes started side by side (a
    start costs seconds on a loaded machine); everything is killed after the
    last test of tests/clients (not at the end of the whole suite: the
    instance without Redis keeps trying to reconnect), also when a start fails."""
    directory = tmp_path_factory.mktemp("clients")
    redis_up, redis_down = RedisServer(directory / "redis-up"), RedisServer(directory / "redis-down")
    services = [
        ServiceProcess({**FLEET_ENV, "REDIS_URL": redis.url, **env}, directory / f"{name}.log")
        for name, redis, env in [("fleet-0", redis_up, {}), ("fleet-1", redis_up, {}),
                                 ("down", redis_down, {"HTTP_MAX_INFLIGHT": "1"})]]
    try:
        redis_up.start()
        redis_down.start()
        with ThreadPoolExecutor(len(services)) as starting:
            list(starting.map(_healthy, services))
        redis_down.kill()
        wait_for(lambda: '"status":"degraded"' in _health(services[2].base_url), 15,
                 "the instance to notice Redis is gone")
        yield Instances(Fleet(redis_up, services[:2]), Fleet(redis_down, services[2:]))
    finally:
        for service in services:
            service.kill()
        redis_up.kill()
        redis_down.kill()


@pytest.fixture
def fleet(instances: Instances) -> Fleet:
    """Two instances on one Redis."""
    return instances.fleet


@pytest.fixture
def down(instances: Instances) -> Fleet:
    """One instance that was connected, then lost its Redis (killed); it
    allows one request in progress (HTTP_MAX_INFLIGHT=1)."""
    return instances.down
