"""The running service against its own OpenAPI document (schemathesis), once
with Redis ready and once with Redis killed (answers from memory).

Bounded: the two runs together took 12-16 s on the reference 2-core machine
while other work shared it (EXAMPLES per operation and mode plus the
document's examples, no shrinking; each request times out after 5 s, so a
hang fails). Derandomized: the same cases every run. The service bugs the
fuzzer found are kept as explicit tests in test_openapi_regressions.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, link_state
from scripts.harness.waiting import wait_for
from service.config import DEFAULT_NAMESPACE_TTLS_MS
from tests.support.fuzzing import fuzz

TOKEN = "fuzz-token"
# Per operation and mode; FUZZ_EXAMPLES=200 runs a deeper search (minutes).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
# One TTL for every namespace: the document can only bound `ttl_ms` by the
# largest (an operation's schema is shared by its namespaces), and a shorter
# namespace would refuse a `ttl_ms` the document allows.
SAME_TTLS = {f"CACHE_{name.upper()}_TTL_MS": "3600000" for name in DEFAULT_NAMESPACE_TTLS_MS}
# Short lease waits: a second `?lease=1` GET of a key waits for the holder
# for up to wait_ms, which the document bounds with CACHE_LEASE_WAIT_MAX_MS.
SERVICE_ENV = {
    **SAME_TTLS,
    "CACHE_API_TOKEN": TOKEN,
    "CACHE_LEASE_WAIT_MS": "50",
    "CACHE_LEASE_WAIT_MAX_MS": "200",
    "REDIS_BACKOFF_BASE_MS": "50",
    "REDIS_BACKOFF_MAX_MS": "200",
    "REDIS_RECONNECT_INTERVAL_MS": "300",
}


def _fuzzed(service: ServiceProcess) -> None:
    report = fuzz(service.base_url, {"Authorization": f"Bearer {TOKEN}"}, EXAMPLES)
    assert report.cases > 0
    assert not report.failures, "\n\n".join(f"{k}:\n{v}" for k, v in report.failures.items())


def _ready_service(
    redis_server: RedisServer, service_process: Callable[..., ServiceProcess]
) -> ServiceProcess:
    service = service_process(
        REDIS_URL=redis_server.url, REDIS_LAZY_CONNECT="false", **SERVICE_ENV
    )
    wait_for(lambda: link_state(service, TOKEN) == "ready", what="the link ready")
    return service


@pytest.mark.slow
def test_every_answer_conforms_with_redis_ready(
    redis_server: RedisServer, service_process: Callable[..., ServiceProcess]
) -> None:
    service = _ready_service(redis_server, service_process)
    _fuzzed(service)
    assert link_state(service, TOKEN) == "ready"


@pytest.mark.slow
def test_every_answer_conforms_with_redis_down(
    redis_server: RedisServer, service_process: Callable[..., ServiceProcess]
) -> None:
    service = _ready_service(redis_server, service_process)
    redis_server.kill()
    wait_for(lambda: link_state(service, TOKEN) != "ready", what="the link to notice")
    _fuzzed(service)
    assert link_state(service, TOKEN) != "ready"
