"""Shared fixtures: real redis-server processes on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from service.app import create_app
from service.config import Settings
from tests.support.redis_server import RedisServer, RedisServers
from tests.support.service_process import ServiceProcess


@pytest.fixture
def redis_servers(tmp_path: Path) -> Iterator[RedisServers]:
    """Start any number of servers with `redis_servers.start(*extra_args)`."""
    with RedisServers(tmp_path / "redis") as servers:
        yield servers


@pytest.fixture
def redis_factory(redis_servers: RedisServers) -> Callable[..., RedisServer]:
    return redis_servers.start


@pytest.fixture
def redis_server(redis_servers: RedisServers) -> RedisServer:
    """One running server with the test defaults (no persistence)."""
    return redis_servers.start()


@pytest.fixture
def service_process(tmp_path: Path) -> Iterator[Callable[..., ServiceProcess]]:
    """Start the real service process with extra environment; killed afterwards."""
    started: list[ServiceProcess] = []

    def start(**env: str) -> ServiceProcess:
        process = ServiceProcess(env, tmp_path / f"service-{len(started)}.log")
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.kill()


# Fast reconnects for tests; every other setting keeps its production default.
FAST_LINK_ENV = {
    "REDIS_BACKOFF_BASE_MS": "50",
    "REDIS_BACKOFF_MAX_MS": "200",
    "REDIS_HEALTH_CHECK_INTERVAL_MS": "100",
    "REDIS_CONNECT_TIMEOUT_MS": "1000",
    "REDIS_RECONNECT_INTERVAL_MS": "300",
}


def make_settings(redis_url: str = "", **env: str) -> Settings:
    return Settings.from_env({**FAST_LINK_ENV, "REDIS_URL": redis_url, **env})


@pytest.fixture
def app_client(aiohttp_client):  # type: ignore[no-untyped-def]
    """Start an in-process app on a test server: `await app_client(url, **env)`."""

    async def start(redis_url: str = "", **env: str) -> TestClient:
        return await aiohttp_client(create_app(make_settings(redis_url, **env)))

    return start
