"""The real server process: starts with or without Redis, shuts down gracefully."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable

from scripts.harness.ports import unread_bytes
from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, http_get

StartService = Callable[..., ServiceProcess]


def test_serves_health_with_no_redis_at_all(service_process: StartService) -> None:
    service = service_process(REDIS_URL="")
    status, body = http_get(service.base_url + "/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, body = http_get(service.base_url + "/api/status")
    assert status == 200
    assert json.loads(body)["redis"] == {"enabled": False, "state": "disconnected", "url": None}
    assert service.terminate() == 0


def test_serves_health_when_the_configured_redis_is_down(
    service_process: StartService, redis_server: RedisServer
) -> None:
    url = redis_server.url
    redis_server.kill()
    service = service_process(REDIS_URL=url, REDIS_LAZY_CONNECT="false")
    assert http_get(service.base_url + "/health")[0] == 200
    assert http_get(service.base_url + "/health/ready")[0] == 200
    assert service.terminate() == 0


def test_serves_health_with_a_fixture_redis(
    service_process: StartService, redis_server: RedisServer
) -> None:
    service = service_process(REDIS_URL=redis_server.url, REDIS_LAZY_CONNECT="false")
    assert http_get(service.base_url + "/health")[0] == 200
    _wait_ready(service)
    assert service.terminate() == 0
    assert "redis: redis://127.0.0.1" in service.log()


def test_sigterm_drains_readiness_first_then_exits_cleanly(
    service_process: StartService,
) -> None:
    service = service_process(REDIS_URL="", SHUTDOWN_DRAIN_MS="1500")
    assert http_get(service.base_url + "/health/ready")[0] == 200
    exit_code: list[int] = []
    stopper = threading.Thread(target=lambda: exit_code.append(service.terminate()))
    stopper.start()
    seen = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and stopper.is_alive():
        try:
            seen.append(http_get(service.base_url + "/health/ready", timeout=0.5)[0])
        except OSError:
            break  # the listener has closed after the drain
        if 503 in seen:
            break
        time.sleep(0.05)
    stopper.join(timeout=15)
    assert 503 in seen
    assert exit_code == [0]
    assert "draining" in service.log()


def test_password_in_redis_url_never_reaches_the_log(
    service_process: StartService, redis_server: RedisServer
) -> None:
    url = f"redis://:hunter2@127.0.0.1:{redis_server.port}"
    service = service_process(REDIS_URL=url, REDIS_LAZY_CONNECT="false", LOG_LEVEL="DEBUG")
    # Wait for the eager connect's outcome (the server has no password set).
    _wait_state(service, "ready", "error", "reconnecting", "failed")
    status, body = http_get(service.base_url + "/api/status")
    assert status == 200
    assert b"hunter2" not in body
    service.terminate()
    assert "hunter2" not in service.log()
    assert ":***@127.0.0.1" in service.log()


def _wait_ready(service: ServiceProcess) -> None:
    _wait_state(service, "ready")


def _wait_state(service: ServiceProcess, *states: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = json.loads(http_get(service.base_url + "/api/status")[1])
        if body["redis"]["state"] in states:
            return
        time.sleep(0.05)
    raise AssertionError(f"the service's Redis link never reached {states}")


def test_in_flight_request_finishes_during_shutdown(
    service_process: StartService, redis_server: RedisServer
) -> None:
    # No idle PING during the test: the only bytes sent to the paused Redis
    # are the request's own commands.
    service = service_process(
        REDIS_URL=redis_server.url, REDIS_LAZY_CONNECT="false", REDIS_COMMAND_TIMEOUT_MS="3000",
        REDIS_HEALTH_CHECK_INTERVAL_MS="60000",
    )
    _wait_ready(service)
    redis_server.pause()  # the next memory miss waits on Redis for up to 3 s
    try:
        answers: list[int] = []
        request = threading.Thread(
            target=lambda: answers.append(
                http_get(service.base_url + "/cache/default/slow", timeout=10)[0]
            )
        )
        request.start()
        # The handler is waiting on Redis once its GET sits unread in Redis's socket.
        deadline = time.monotonic() + 10
        while unread_bytes(redis_server.port) == 0:
            assert time.monotonic() < deadline, "the request never reached Redis"
            time.sleep(0.01)
        assert service.process is not None
        service.process.send_signal(signal.SIGTERM)
        request.join(timeout=10)
    finally:
        redis_server.resume()
    assert answers == [404]  # answered as a miss, not cut off
    assert service.process.wait(timeout=15) == 0
