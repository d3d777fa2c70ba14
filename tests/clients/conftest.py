"""The clients' tests run against the real service: one fleet for the session
(a redis-server and two service processes on it, a bearer token, a default
namespace and a stale-while-revalidate one) and one instance whose Redis was
killed (degraded answers; HTTP_MAX_INFLIGHT=1, so `overloaded` can be
provoked). The Python and the Node client's tests share both, so each
process starts once; tests use keys of their own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import FAST_LINK_ENV
from tests.support.redis_server import RedisServer
from tests.support.service_process import ServiceProcess, http_get
from tests.support.waiting import wait_for

TOKEN = "client-test-token"
LEASE_DURATION_MS = 1500
FLEET_ENV = {
    **FAST_LINK_ENV,
    "CACHE_API_TOKEN": TOKEN,
    "CACHE_DEFAULT_TTL_MS": "60000",
    # Values live 300 ms, then are served stale for 30 s while one caller refreshes.
    "CACHE_SWR_TTL_MS": "300",
    "CACHE_SWR_STALE_MS": "30000",
    # A lease not filled is taken over after this: the takeover test waits for it.
    "CACHE_LEASE_DURATION_MS": str(LEASE_DURATION_MS),
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
    status, body = http_get(url + "/health/detailed")
    return body.decode() if status == 200 else ""


def _start(directory: Path, redis: RedisServer, count: int, **env: str) -> list[ServiceProcess]:
    services = []
    for number in range(count):
        service = ServiceProcess({**FLEET_ENV, "REDIS_URL": redis.url, **env},
                                 directory / f"service-{number}.log")
        services.append(service)
        service.start()
        wait_for(lambda s=service: '"status":"healthy"' in _health(s.base_url), 15,
                 "the service's link to Redis")
    return services


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    directory = tmp_path_factory.mktemp("client-fleet")
    redis = RedisServer(directory / "redis")
    services: list[ServiceProcess] = []
    try:
        redis.start()
        services = _start(directory, redis, 2)
        yield Fleet(redis, services)
    finally:
        for service in services:
            service.kill()
        redis.kill()


@pytest.fixture(scope="session")
def down(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """One instance that was connected, then lost its Redis (killed)."""
    directory = tmp_path_factory.mktemp("client-down")
    redis = RedisServer(directory / "redis")
    services: list[ServiceProcess] = []
    try:
        redis.start()
        services = _start(directory, redis, 1, HTTP_MAX_INFLIGHT="1")
        redis.kill()
        wait_for(lambda: '"status":"degraded"' in _health(services[0].base_url), 15,
                 "the instance to notice Redis is gone")
        yield Fleet(redis, services)
    finally:
        for service in services:
            service.kill()
        redis.kill()
