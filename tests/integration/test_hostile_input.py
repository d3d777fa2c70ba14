"""The running service against a hand-written corpus of hostile requests
(tests/support/hostile.py), with Redis ready and with Redis killed.

What must hold for every request: no 5xx, no traceback in the service's log,
the Server, nosniff and CSP headers on every answer (aiohttp's own early
400s included), and afterwards the service still answers a plain GET. The schemathesis run
(test_openapi_fuzz.py) covers what the OpenAPI document allows; this covers
what no client library would send.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, http_get, link_state
from scripts.harness.waiting import wait_for
from tests.support import hostile

TOKEN = "hostile-token"
SERVICE_ENV = {
    "CACHE_API_TOKEN": TOKEN,
    "ACCESS_LOG": "true",  # every path, %0a and all, goes into a log line
    "CACHE_LEASE_WAIT_MS": "20",
    "CACHE_LEASE_WAIT_MAX_MS": "50",
    "HTTP_BODY_TIMEOUT_MS": "300",
    "REDIS_BACKOFF_BASE_MS": "50",
    "REDIS_BACKOFF_MAX_MS": "200",
    "REDIS_RECONNECT_INTERVAL_MS": "300",
}
# Lines that tell an exception escaped somewhere (ours or aiohttp's own).
FAILURE_MARKS = ("Traceback", "Error handling request", "unhandled error")


# What every answer carries, those aiohttp gives before any route runs included.
STAMPS = (b"\r\nserver: roleready-cache\r\n", b"\r\nx-content-type-options: nosniff\r\n",
          b"\r\ncontent-security-policy: default-src 'none'; sandbox\r\n")


def _campaign(service: ServiceProcess) -> None:
    failures, unanswered, unstamped = [], [], []
    for name, raw in hostile.corpus(TOKEN):
        answer = hostile.send(service.port, raw)
        if answer.status is None:
            unanswered.append(name)
            continue
        if answer.status >= 500 and b"overloaded" not in answer.head:
            failures.append(f"{name}: {answer.head[:200]!r}")
        head = answer.head.lower() + b"\r\n"
        if not all(stamp in head for stamp in STAMPS):
            unstamped.append(f"{name}: {answer.head[:300]!r}")
    # Only a client that left before its body was complete may go unanswered.
    assert all("truncated" in name for name in unanswered), unanswered
    log = service.log()
    assert not [line for line in log.splitlines() if line.startswith(hostile.FORGED)]
    assert hostile.FORGED in log  # the access lines of that path, on their own lines
    for mark in FAILURE_MARKS:
        assert mark not in log, log[log.index(mark) - 500:log.index(mark) + 3000]
    assert not failures, "\n".join(failures)
    assert not unstamped, "\n".join(unstamped)
    plain = hostile.send(service.port, hostile.request("GET", "/cache/default/k", token=TOKEN))
    assert plain.status in (200, 404)
    assert http_get(service.base_url + "/health")[0] == 200


@pytest.mark.slow
@pytest.mark.parametrize("redis_state", ["ready", "down"])
def test_hostile_requests(
    redis_state: str, redis_server: RedisServer,
    service_process: Callable[..., ServiceProcess],
) -> None:
    service = service_process(REDIS_URL=redis_server.url, REDIS_LAZY_CONNECT="false",
                              **SERVICE_ENV)
    wait_for(lambda: link_state(service, TOKEN) == "ready", what="the link ready")
    if redis_state == "down":
        redis_server.kill()
        wait_for(lambda: link_state(service, TOKEN) != "ready", what="the link to notice")
    _campaign(service)
    # The campaign neither dropped a ready link nor brought back a dead one.
    assert (link_state(service, TOKEN) == "ready") == (redis_state == "ready")
