"""Outage writes survive the service process (CACHE_STATE_DIR), and are applied
at shutdown when Redis is back.

The scenario is always the same: PUT k reaches Redis; Redis dies; DELETE k
is answered 204 from memory; the service stops (SIGTERM, SIGKILL); Redis
comes back with the old value (AOF, fsync always: a production Redis keeps
its data across a restart); the service starts again. The old value must
never be served again."""

from __future__ import annotations

import json
import os
import signal
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, http_get
from scripts.harness.waiting import wait_for
from tests.conftest import FAST_LINK_ENV
from tests.support.proc import children, open_files

StartService = Callable[..., ServiceProcess]
DURABLE = ("--appendonly", "yes", "--appendfsync", "always")
REDIS_KEY = "roleready:default:{}"


def request(service: ServiceProcess, method: str, path: str, body: bytes | None = None
            ) -> tuple[int, dict[str, str]]:
    call = urllib.request.Request(service.base_url + path, data=body, method=method)
    with urllib.request.urlopen(call, timeout=5) as answer:
        return answer.status, dict(answer.headers)


def link_state(service: ServiceProcess) -> str:
    _, body = http_get(service.base_url + "/health/detailed")
    return str(json.loads(body)["checks"]["redis"]["connectionStatus"])


def wait_ready(service: ServiceProcess) -> None:
    http_get(service.base_url + "/cache/default/wake-the-lazy-link")
    wait_for(lambda: link_state(service) == "ready", what="link ready")


def put_then_delete_in_an_outage(service: ServiceProcess, redis: RedisServer,
                                 keys: tuple[str, ...] = ("k",)) -> None:
    """Each key PUT into Redis, Redis killed, each key DELETEd from memory."""
    wait_ready(service)
    for key in keys:
        status, headers = request(service, "PUT", f"/cache/default/{key}", b"old")
        assert (status, headers["X-Cache-Stored"]) == (204, "redis")
    redis.kill()
    for key in keys:
        status, headers = request(service, "DELETE", f"/cache/default/{key}")
        assert (status, headers["X-Cache-Stored"]) == (204, "memory")


def stop(service: ServiceProcess, how: str) -> None:
    assert service.process is not None
    if how == "SIGTERM":
        assert service.terminate() == 0
    else:
        service.process.send_signal(signal.SIGKILL)
        service.process.wait(timeout=10)


def in_redis(redis: RedisServer, key: str) -> bool:
    return bool(redis.client().exists(REDIS_KEY.format(key)))


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_an_outage_delete_is_not_undone_by_a_restart_of_the_service(
    service_process: StartService, redis_factory: Callable[..., RedisServer], tmp_path: Path,
    how: str,
) -> None:
    redis = redis_factory(*DURABLE)
    env = {**FAST_LINK_ENV, "REDIS_URL": redis.url, "CACHE_STATE_DIR": str(tmp_path / "state")}
    service = service_process(**env)
    put_then_delete_in_an_outage(service, redis)
    stop(service, how)
    redis.start()
    assert in_redis(redis, "k")  # Redis kept the value from before the outage
    again = service_process(**env)
    wait_ready(again)
    assert http_get(again.base_url + "/cache/default/k")[0] == 404
    assert not in_redis(redis, "k")
    assert list((tmp_path / "state").glob("outbox-*.log")) != []  # the live process's own
    assert again.terminate() == 0
    assert list((tmp_path / "state").glob("outbox-*.log")) == []  # nothing owed: removed


def test_an_outage_tag_invalidation_is_not_undone_by_a_killed_service(
    service_process: StartService, redis_factory: Callable[..., RedisServer], tmp_path: Path,
) -> None:
    """The invalidation of a tag made while Redis was unreachable is in the
    state file before its answer: a SIGKILLed service applies it at its next
    start, before Redis serves the tagged value again."""
    redis = redis_factory(*DURABLE)
    env = {**FAST_LINK_ENV, "REDIS_URL": redis.url, "CACHE_STATE_DIR": str(tmp_path / "state")}
    service = service_process(**env)
    wait_ready(service)
    call = urllib.request.Request(service.base_url + "/cache/default/k", data=b"old",
                                  method="PUT", headers={"X-Cache-Tags": "candidate:42"})
    with urllib.request.urlopen(call, timeout=5) as answer:
        assert (answer.status, answer.headers["X-Cache-Stored"]) == (204, "redis")
    redis.kill()
    call = urllib.request.Request(service.base_url + "/cache/default/_invalidate",
                                  data=b'{"tags": ["candidate:42"]}', method="POST",
                                  headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(call, timeout=5) as answer:
        assert json.loads(answer.read())["appliedIn"] == "memory"
    stop(service, "SIGKILL")
    redis.start()
    assert in_redis(redis, "k")  # the tagged value from before the invalidation
    again = service_process(**env)
    wait_ready(again)
    assert http_get(again.base_url + "/cache/default/k")[0] == 404
    assert again.terminate() == 0
    assert list((tmp_path / "state").glob("outbox-*.log")) == []  # nothing owed: removed


def test_a_truncated_state_file_is_read_up_to_its_last_whole_record(
    service_process: StartService, redis_factory: Callable[..., RedisServer], tmp_path: Path,
) -> None:
    redis = redis_factory(*DURABLE)
    state = tmp_path / "state"
    env = {**FAST_LINK_ENV, "REDIS_URL": redis.url, "CACHE_STATE_DIR": str(state)}
    service = service_process(**env)
    put_then_delete_in_an_outage(service, redis, keys=("first", "second"))
    stop(service, "SIGKILL")
    (path,) = state.glob("outbox-*.log")
    data = path.read_bytes()
    path.write_bytes(data[:-5])  # killed in the middle of the second append
    redis.start()
    again = service_process(**env)
    wait_ready(again)
    assert not in_redis(redis, "first")
    assert in_redis(redis, "second")  # its record was cut: lost, as by a crash mid-append
    _, metrics = http_get(again.base_url + "/metrics")
    assert b"roleready_cache_outbox_state_damaged_files_total 1.0" in metrics
    assert b"roleready_cache_outbox_state_restored_keys_total 1.0" in metrics
    assert again.terminate() == 0
    log = again.log()
    assert "damaged or truncated record" in log and "1 whole records read" in log


def test_the_outbox_is_applied_at_shutdown_when_redis_is_back(
    service_process: StartService, redis_factory: Callable[..., RedisServer],
) -> None:
    """No state directory: memory holds the DELETE. Redis is back, but the
    link is still waiting out its backoff (8 s) when SIGTERM comes: the
    shutdown makes it retry at once, and the outbox reaches Redis."""
    redis = redis_factory(*DURABLE)
    env = {**FAST_LINK_ENV, "REDIS_URL": redis.url, "REDIS_BACKOFF_BASE_MS": "8000",
           "REDIS_BACKOFF_MAX_MS": "8000", "SHUTDOWN_TIMEOUT_MS": "6000"}
    service = service_process(**env)
    put_then_delete_in_an_outage(service, redis)
    redis.start()
    assert in_redis(redis, "k")
    assert link_state(service) != "ready"
    assert service.terminate() == 0
    assert not in_redis(redis, "k")
    assert "the outbox reached Redis" in service.log()


def test_without_a_state_dir_shutdown_says_what_it_dropped(
    service_process: StartService, redis_factory: Callable[..., RedisServer],
) -> None:
    """The link has given up (`failed`, probing): shutdown's one attempt
    fails and it stops, without waiting out SHUTDOWN_TIMEOUT_MS (a minute)."""
    redis = redis_factory()
    env = {**FAST_LINK_ENV, "REDIS_URL": redis.url, "SHUTDOWN_TIMEOUT_MS": "60000",
           "REDIS_MAX_RECONNECT_ATTEMPTS": "1", "REDIS_RECONNECT_INTERVAL_MS": "30000"}
    service = service_process(**env)
    put_then_delete_in_an_outage(service, redis, keys=("a", "b"))
    request(service, "PUT", "/cache/ai_draft/c", b"new")
    wait_for(lambda: link_state(service) == "failed", what="the link gave up")
    assert service.terminate(timeout=15) == 0
    log = service.log()
    assert "CACHE_STATE_DIR is not set" in log
    assert "3 outage writes dropped (namespaces: ai_draft, default)" in log


@pytest.mark.slow
def test_workers_each_keep_a_file_and_a_killed_one_s_is_taken_over(
    service_process: StartService, redis_factory: Callable[..., RedisServer], tmp_path: Path,
) -> None:
    """WORKERS=2: outage DELETEs land on both workers, each in its own file.
    A worker SIGKILLed is replaced by the arbiter, and the new worker takes
    its file over at start; then the whole instance is SIGKILLed (an OOM
    kill of the container), and a start with WORKERS=1 applies both."""
    redis = redis_factory(*DURABLE)
    state = tmp_path / "state"
    env = {**FAST_LINK_ENV, "REDIS_URL": redis.url, "CACHE_STATE_DIR": str(state),
           "REDIS_LAZY_CONNECT": "false"}
    service = service_process(**env, WORKERS="2")
    assert service.process is not None
    # New connections go to whichever worker accepts first, which one
    # worker may win many times running: DELETEs go on until both hold some.
    keys = tuple(f"k{i}" for i in range(200))
    service.wait_ready(healthy=True)  # both workers' links: a lazy one answers from memory
    for key in keys:
        status, headers = request(service, "PUT", f"/cache/default/{key}", b"old")
        assert (status, headers["X-Cache-Stored"]) == (204, "redis")
    redis.kill()
    for done, key in enumerate(keys, 1):
        assert request(service, "DELETE", f"/cache/default/{key}")[1]["X-Cache-Stored"] == "memory"
        if done >= 12 and len(list(state.glob("outbox-*.log"))) == 2:
            break
    keys = keys[:done]
    workers = children(service.process.pid)
    assert len(list(state.glob("outbox-*.log"))) == 2 and len(workers) == 2
    victim = min(workers)
    (victim_file,) = open_files(victim, state)
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: not victim_file.exists(), what="the dead worker's file taken over")
    assert len(children(service.process.pid) - {victim}) == 2  # replaced by the arbiter
    assert len(list(state.glob("outbox-*.log"))) == 2
    for pid in (*children(service.process.pid), service.process.pid):
        os.kill(pid, signal.SIGKILL)
    service.process.wait(timeout=10)
    redis.start()
    assert all(in_redis(redis, key) for key in keys)
    again = service_process(**env)
    wait_ready(again)
    assert [key for key in keys if in_redis(redis, key)] == []
    assert again.terminate() == 0
