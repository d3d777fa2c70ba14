"""Shared fixtures: real redis-server processes on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

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
