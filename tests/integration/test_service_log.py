"""The running service's own log through an outage: throttled, never ERROR, no secrets.

The error-log throttle is unit-tested in tests/statemachine; this checks the
service process actually wires it (a throttle of every=1 must fail here) and
that neither REDIS_URL's password nor the API token reaches the log, also on
the error path of a refused AUTH.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, http_get
from tests.conftest import FAST_LINK_ENV

PASSWORD = "pw-7f3a9c-never-logged"
TOKEN = "tok-51e2b8-never-logged"
ERROR_LINE = re.compile(r" WARNING roleready\.redis: Redis error \[(\w+)\] .*\((\d+) similar suppressed\)$")


def _detailed(service: ServiceProcess) -> dict[str, object]:
    status, body = http_get(service.base_url + "/health/detailed", token=TOKEN)
    assert status == 200
    return json.loads(body)


def _wait(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _errors(service: ServiceProcess) -> int:
    return int(_detailed(service)["checks"]["cache"]["redis"]["errors"])  # type: ignore[index]


def _assert_clean(log: str) -> None:
    assert PASSWORD not in log and TOKEN not in log
    assert not [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]


def test_an_outage_logs_the_1st_10th_20th_error_with_suppressed_counts(
    redis_factory: Callable[..., RedisServer], service_process: Callable[..., ServiceProcess]
) -> None:
    redis = redis_factory(password=PASSWORD)
    service = service_process(**{
        **FAST_LINK_ENV, "REDIS_URL": redis.url, "REDIS_LAZY_CONNECT": "false",
        "CACHE_API_TOKEN": TOKEN, "REDIS_BACKOFF_MAX_MS": "50",
        "REDIS_MAX_RECONNECT_ATTEMPTS": "100",
    })
    _wait(lambda: _detailed(service)["status"] == "healthy", "ready")
    redis.kill()
    _wait(lambda: _errors(service) >= 25, "25 errors")
    assert service.terminate() == 0
    log = service.log()
    _assert_clean(log)
    suppressed = [int(m.group(2)) for m in map(ERROR_LINE.search, log.splitlines()) if m]
    assert len(suppressed) >= 3, log
    # The 1st error, then the 10th (8 suppressed between), the 20th (9), ...
    assert suppressed == [0, 8] + [9] * (len(suppressed) - 2), log
    assert log.count("Redis unavailable, serving from memory cache") == 1


def test_a_refused_password_is_reported_without_the_password(
    redis_factory: Callable[..., RedisServer], service_process: Callable[..., ServiceProcess]
) -> None:
    redis = redis_factory(password="the-right-one")
    wrong = redis.url.replace("the-right-one", PASSWORD)
    service = service_process(
        **FAST_LINK_ENV, REDIS_URL=wrong, REDIS_LAZY_CONNECT="false", CACHE_API_TOKEN=TOKEN
    )
    _wait(lambda: _errors(service) >= 1, "a refused AUTH")
    report = json.dumps(_detailed(service))
    status = http_get(service.base_url + "/api/status", token=TOKEN)[1].decode()
    assert service.terminate() == 0
    log = service.log()
    _assert_clean(log + report + status)
    kinds = [m.group(1) for m in map(ERROR_LINE.search, log.splitlines()) if m]
    assert kinds and kinds[0] == "auth", log
