"""WORKERS=2: the real service process under gunicorn, against a real Redis.

One instance (two workers) is shared by the module's tests, in file order:
the last test stops it with SIGTERM. Connections are kept alive
(http.client), so a connection stays with the worker that accepted it: that
is how a test talks to one worker or the other.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from prometheus_client.parser import text_string_to_metric_families

from scripts.harness.redis_server import RedisServer, RedisServers
from scripts.harness.service_process import ServiceProcess, http_get
from scripts.harness.waiting import wait_for
from service.http.api_description.service_paths import DETAILED, STATUS
from tests.conftest import FAST_LINK_ENV
from tests.support.proc import children

pytestmark = pytest.mark.redis
SIGHUP_LINE = "SIGHUP: re-reading CACHE_API_TOKEN_FILE"
TOKEN = "workers-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServers(tmp_path_factory.mktemp("redis")) as servers:
        yield servers.start()


@pytest.fixture(scope="module")
def instance(redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[ServiceProcess]:
    directory = tmp_path_factory.mktemp("workers")
    (directory / "token").write_text(TOKEN)
    service = ServiceProcess({
        **FAST_LINK_ENV, "REDIS_URL": redis.url, "WORKERS": "2", "REDIS_LAZY_CONNECT": "false",
        "SHUTDOWN_DRAIN_MS": "600", "CACHE_API_TOKEN_FILE": str(directory / "token"),
    }, directory / "service.log")
    try:
        service.start()
        wait_for(lambda: _all_ready(service), what="both workers ready")
        yield service
    finally:
        service.kill()


def _detailed(service: ServiceProcess) -> dict:
    return json.loads(http_get(service.base_url + "/health/detailed", token=TOKEN)[1])


def _all_ready(service: ServiceProcess) -> bool:
    workers = _detailed(service)["workers"]
    return len(workers) == 2 and all(w.get("connectionStatus") == "ready" for w in workers)


class Worker:
    """A kept-alive connection, and the worker process at its other end."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        self.pid = self.get("/api/status")[1]["process"]["pid"]

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.connection.request(method, path, body=body, headers=AUTH)
        response = self.connection.getresponse()
        return response.status, response.read()

    def get(self, path: str) -> tuple[int, dict]:
        status, body = self.request("GET", path)
        return status, json.loads(body)


class Connections:
    """Opens kept-alive connections; all closed when the test ends."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.opened: list[Worker] = []

    def open(self) -> Worker:
        worker = Worker(self.port)
        self.opened.append(worker)
        return worker

    def one_per_worker(self) -> tuple[Worker, Worker]:
        by_pid: dict[int, Worker] = {}
        for _ in range(100):
            worker = self.open()
            by_pid.setdefault(worker.pid, worker)
            if len(by_pid) == 2:
                first, second = by_pid.values()
                return first, second
        raise AssertionError(f"100 connections all reached {list(by_pid)}")


@pytest.fixture
def connections(instance: ServiceProcess) -> Iterator[Connections]:
    opened = Connections(instance.port)
    yield opened
    for worker in opened.opened:
        worker.connection.close()


def _scrape(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the counters, histograms and summaries (not their
    `_created`), by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        if family.type in ("counter", "histogram", "summary")
        for sample in family.samples if not sample.name.endswith("_created")
    }


def _summed(text: str, name: str) -> float:
    """A counter over the workers, as `sum without (worker)` reads it."""
    found = [value for (sample, _), value in _scrape(text).items() if sample == name]
    assert len(found) == 2, (name, found)  # one series per worker
    return sum(found)


def _metric(service: ServiceProcess, name: str) -> float:
    return _summed(http_get(service.base_url + "/metrics", token=TOKEN)[1].decode(), name)


def test_two_workers_answer_on_one_port_on_uvloop(connections: Connections) -> None:
    statuses = [connections.open().get("/api/status")[1] for _ in range(40)]
    jsonschema.validate(statuses[0], STATUS)  # as the OpenAPI document says
    processes = [status["process"] for status in statuses]
    assert len({process["pid"] for process in processes}) == 2
    assert {process["worker"] for process in processes} == {0, 1}
    assert {process["eventLoop"] for process in processes} == {"uvloop"}  # the default


def test_a_write_through_one_worker_is_seen_by_the_other(instance: ServiceProcess, connections: Connections) -> None:
    one, other = connections.one_per_worker()
    assert one.request("PUT", "/cache/default/shared", b"first")[0] == 204
    assert other.request("GET", "/cache/default/shared") == (200, b"first")  # from Redis
    assert other.request("GET", "/cache/default/shared") == (200, b"first")  # now in memory
    assert one.request("PUT", "/cache/default/shared", b"second")[0] == 204
    # The other worker's memory copy is dropped by Redis's invalidation message.
    wait_for(lambda: other.request("GET", "/cache/default/shared") == (200, b"second"),
             what="the other worker to serve the new value")


def test_metrics_are_the_instance_s_whichever_worker_answers(
    instance: ServiceProcess, connections: Connections
) -> None:
    one, other = connections.one_per_worker()
    before = _metric(instance, "roleready_cache_sets_total")
    for n in range(10):
        assert (one if n % 2 else other).request("PUT", f"/cache/default/m{n}", b"v")[0] == 204
    for worker in (one, other):  # a scrape through either worker says the same
        status, body = worker.request("GET", "/metrics")
        assert status == 200 and _summed(body.decode(), "roleready_cache_sets_total") == before + 10
    text = http_get(instance.base_url + "/metrics", token=TOKEN)[1].decode()
    assert 'roleready_worker_up{worker="0"} 1.0' in text
    assert 'roleready_worker_up{worker="1"} 1.0' in text
    assert 'roleready_memory_cache_entries{worker="1"}' in text  # gauges: per worker
    assert 'roleready_cache_sets_total{worker="1"}' in text  # counters too
    assert "roleready_redis_used_memory_bytes " in text  # the probe's: once, unlabelled


def test_detailed_health_lists_both_workers_and_the_worst_state_wins(
    instance: ServiceProcess, connections: Connections
) -> None:
    document = _detailed(instance)
    jsonschema.validate(document, DETAILED)
    assert document["status"] == "healthy"
    assert [w["worker"] for w in document["workers"]] == [0, 1]
    answering, other = connections.one_per_worker()
    os.kill(other.pid, signal.SIGSTOP)  # the sibling cannot answer
    try:
        status, document = answering.get("/health/detailed")
    finally:
        os.kill(other.pid, signal.SIGCONT)
    assert status == 200 and document["status"] == "degraded"
    jsonschema.validate(document, DETAILED)
    assert document["checks"]["redis"]["status"] == "unhealthy"
    assert {"worker": 1 - answering.get("/api/status")[1]["process"]["worker"],
            "status": "unreachable"} in document["workers"]


def test_sighup_reaches_every_worker(instance: ServiceProcess) -> None:
    assert instance.process is not None
    handled = instance.log().count(SIGHUP_LINE)
    instance.process.send_signal(signal.SIGHUP)
    wait_for(lambda: instance.log().count(SIGHUP_LINE) == handled + 2, what="both workers")
    assert instance.process.poll() is None


def test_a_killed_worker_is_replaced_in_its_slot_and_no_other_series_goes_down(
    instance: ServiceProcess, connections: Connections
) -> None:
    one, other = connections.one_per_worker()
    slot = str(other.get("/api/status")[1]["process"]["worker"])
    for n in range(30):  # the worker to be killed has counted more than it will again
        assert other.request("PUT", f"/cache/default/r{n}", b"v")[0] == 204
    before = _both_workers_scraped(instance)
    stop, statuses = threading.Event(), []
    load = threading.Thread(target=_keep_reading, args=(one, stop, statuses))
    load.start()
    try:
        os.kill(other.pid, signal.SIGKILL)
        wait_for(lambda: _all_ready(instance), what="the replacement worker")
        after = _both_workers_scraped(instance)
    finally:
        stop.set()
        load.join(timeout=10)
    assert statuses and set(statuses) == {200}  # the surviving worker served throughout
    workers = _detailed(instance)["workers"]
    assert {w["worker"] for w in workers} == {0, 1}
    replacement = next(w for w in workers if str(w["worker"]) == slot)
    assert replacement["pid"] not in (one.pid, other.pid)
    assert one.request("GET", "/health")[0] == 200  # the other worker served on
    _no_series_went_down_but_the_restarted_worker_s(_scrape(before), _scrape(after), slot)


def _both_workers_scraped(instance: ServiceProcess) -> str:
    """A scrape with both workers' figures in it (a sibling that does not
    answer in time is left out of a scrape, and marked so)."""
    scraped: list[str] = []

    def complete() -> bool:
        scraped.append(http_get(instance.base_url + "/metrics", token=TOKEN)[1].decode())
        return all(f'roleready_worker_up{{worker="{w}"}} 1.0' in scraped[-1] for w in "01")

    wait_for(complete, what="a scrape of both workers")
    return scraped[-1]


def _keep_reading(worker: Worker, stop: threading.Event, statuses: list[int]) -> None:
    while not stop.is_set():
        statuses.append(worker.request("GET", f"/cache/default/r{len(statuses) % 30}")[0])


def _no_series_went_down_but_the_restarted_worker_s(
    before: dict[tuple[str, frozenset[tuple[str, str]]], float],
    after: dict[tuple[str, frozenset[tuple[str, str]]], float],
    slot: str,
) -> None:
    """What rate() needs: every series but the restarted worker's is still
    there and has not gone down (summed over the workers, the PUT counts
    would have dropped by the 30 of the killed worker); the restarted
    worker's series start again from its own small counts."""
    reset = 0
    for key, value in before.items():
        if dict(key[1]).get("worker") == slot:
            reset += after.get(key, 0.0) < value
        else:
            assert key in after and after[key] >= value, (key, value, after.get(key))
    put = ("roleready_http_request_duration_seconds_count", frozenset({
        ("route", "/cache/{namespace}/{key}"), ("method", "PUT"), ("status", "204"),
        ("worker", slot)}))
    assert before[put] >= 30 and after.get(put, 0.0) < 30  # the restart was a reset
    assert reset > 0


def test_sigterm_drains_every_worker_then_exits_0(instance: ServiceProcess) -> None:
    assert http_get(instance.base_url + "/health/ready")[0] == 200
    exit_code: list[int] = []
    stopper = threading.Thread(target=lambda: exit_code.append(instance.terminate()))
    stopper.start()
    seen: list[int] = []
    while stopper.is_alive() and 503 not in seen:
        try:
            seen.append(http_get(instance.base_url + "/health/ready", timeout=0.5)[0])
        except OSError:
            break  # the listener closed after the drain
        time.sleep(0.02)
    stopper.join(timeout=20)
    assert 503 in seen
    assert exit_code == [0]
    assert instance.log().count("draining for 600 ms") == 2


@pytest.mark.parametrize(("loop", "workers", "env"), [
    ("asyncio", 1, {"EVENT_LOOP": "asyncio"}),
    ("asyncio", 2, {"EVENT_LOOP": "asyncio"}),  # aiohttp's GunicornWebWorker
    ("uvloop", 1, {}),  # the default (with workers: the first test)
])
def test_the_event_loop_asked_for_serves(
    loop: str, workers: int, env: dict[str, str], tmp_path: Path
) -> None:
    service = ServiceProcess({"REDIS_URL": "", "WORKERS": str(workers), **env},
                             tmp_path / "service.log").start()
    try:
        process = json.loads(http_get(service.base_url + "/api/status")[1])["process"]
        assert (process["eventLoop"], process["workers"]) == (loop, workers)
        assert process["worker"] in ((None,) if workers == 1 else (0, 1))
        put = urllib.request.Request(service.base_url + "/cache/default/k", b"v", method="PUT")
        with urllib.request.urlopen(put) as answer:
            assert answer.status == 204
        # Memory only: with two workers the GET may reach the other's tier.
        assert http_get(service.base_url + "/cache/default/k")[0] in (
            (200,) if workers == 1 else (200, 404))
    finally:
        assert service.terminate() == 0


@pytest.mark.slow  # on a loaded machine the arbiter may take long to fork
def test_a_sigterm_while_the_workers_boot_stops_them_at_once(tmp_path: Path) -> None:
    """The arbiter passes a SIGTERM on to workers that may still be between
    gunicorn's fork and their own signal handlers: each stops when it can,
    none lives on until the graceful timeout (here far beyond the wait)."""
    service = ServiceProcess({"REDIS_URL": "", "WORKERS": "2", "SHUTDOWN_DRAIN_MS": "0",
                              "SHUTDOWN_TIMEOUT_MS": "60000"}, tmp_path / "service.log")
    service.spawn()
    assert service.process is not None
    try:
        wait_for(lambda: len(children(service.process.pid)) == 2, 60,
                 "two workers forked", every=0.001)
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(timeout=20) == 0, service.log()
    finally:
        service.kill()
