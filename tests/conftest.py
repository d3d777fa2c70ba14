"""Shared fixtures: real redis-server processes on free loopback ports; markers.

Markers (declared in setup.cfg): `redis` is added here to every test that
uses a fixture starting redis-server or the service process, so
`scripts/test -m "not redis"` runs the pure part in seconds; a test that
starts one some other way carries the mark itself, and an unmarked test that
tries is stopped with a message saying so. `slow` tests get SLOW_TIMEOUT_S
instead of setup.cfg's per-test timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from scripts.harness.redis_cluster import LocalCluster
from scripts.harness.redis_server import RedisServer, RedisServers
from scripts.harness.sentinel import SentinelSetup, start_sentinel_setup
from scripts.harness.service_process import ServiceProcess
from service.app import create_app
from service.config import Settings
from service.telemetry import Tracing
from statemachine.clock import Clock
from tests.support.app_server import ServiceTestServer

# Fixtures that start redis-server or the service process (or depend on one
# that does: pytest's item.fixturenames holds the whole closure).
SERVER_FIXTURES = frozenset({"redis_servers", "redis_cluster", "service_process", "daemon_redis",
                             "passing_drill"})
SLOW_TIMEOUT_S = 180


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.redis)
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))


@pytest.fixture(autouse=True)
def _servers_only_in_redis_tests(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the `redis` mark honest: an unmarked test cannot start a server."""
    if request.node.get_closest_marker("redis") is not None:
        return

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError(f"{request.node.nodeid} starts a server: mark it "
                           "pytest.mark.redis or use a fixture in tests/conftest.py")

    monkeypatch.setattr(RedisServer, "start", refuse)
    monkeypatch.setattr(ServiceProcess, "start", refuse)


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
def redis_cluster(redis_servers: RedisServers) -> Iterator[LocalCluster]:
    """A healthy Redis Cluster: 3 masters with 1 replica each (scripts/harness/redis_cluster.py).
    `redis_cluster.seeds` is the REDIS_CLUSTER_NODES value; the processes stop with
    `redis_servers`."""
    with LocalCluster(redis_servers) as cluster:  # closes its clients even if start fails
        yield cluster.start()


@pytest.fixture
def sentinel_setup(redis_servers: RedisServers, tmp_path: Path) -> SentinelSetup:
    """A master, a replica in sync and three sentinels (quorum 2, down-after 1 s)."""
    return start_sentinel_setup(redis_servers, tmp_path / "sentinel")


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
    """Start an in-process app on a test server: `await app_client(url, **env)`;
    `clock=` gives it a clock of the test's (a FakeClock moves memory-tier time),
    `tracing=` turns tracing on with the test's tracer."""

    async def start(redis_url: str = "", *, clock: Clock | None = None,
                    tracing: Tracing | None = None, **env: str) -> TestClient:
        settings = make_settings(redis_url, **env)
        app = create_app(settings, clock=clock, tracing=tracing)
        return await aiohttp_client(ServiceTestServer(app))

    return start
