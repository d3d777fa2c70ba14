"""Failover times: a Redis master SIGKILLed under a light `Trickle` of
requests, and how long until the service is ready on its promoted replica
(Sentinel, and Cluster), each run with fresh processes.

Method: docs/performance.md, "Failover: kill -> ready on the new master".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from http.client import HTTPConnection, HTTPException
from typing import TYPE_CHECKING, Any

from scripts.benchmark.processes import BenchError, Processes, http_json
from scripts.benchmark.report import Report, n, row, spread, table, target
from scripts.harness import sentinel as se
from scripts.harness.redis_cluster import NODE_TIMEOUT_MS, LocalCluster
from scripts.harness.service_process import ServiceProcess, http
from scripts.harness.waiting import wait_for

if TYPE_CHECKING:
    from scripts.benchmark.sections import Run

HOST = "127.0.0.1"
POLL_INTERVAL_S = 0.025
READY_LIMIT_S = 30.0
SETUP_TIMEOUT_S = 20.0
# Load on the old master before the kill, and on the new one after ready.
STEADY_S = 0.5
TRICKLE_RATE = 10
TRICKLE_VALUE = b'{"score": 87, "source": "failover trickle"}'
REQUEST_TIMEOUT_S = 5.0
PREFIX = "bench-failover"
PROBE_KEY = "failover-probe"
LINK_ENV = {"REDIS_LAZY_CONNECT": "false", "CACHE_KEY_PREFIX": PREFIX}
SENTINEL_TARGET_S = se.DOWN_AFTER_MS / 1000 + 2.0
CLUSTER_TARGET_S = 15.0
MASTERS = 3


def redis_check(service: ServiceProcess) -> dict[str, Any]:
    """checks.redis of /health/detailed ({} when the service does not answer)."""
    try:
        status, body = http_json(service.base_url + "/health/detailed")
    except OSError:
        return {}
    return body["checks"]["redis"] if status == 200 and body else {}


def on_master(service: ServiceProcess, port: int) -> bool:
    check = redis_check(service)
    return check.get("status") == "healthy" and check["topology"].get("master") == f"{HOST}:{port}"


def cluster_ready(service: ServiceProcess, expected: str | None = None) -> bool:
    check = redis_check(service)
    if check.get("status") != "healthy":
        return False
    nodes = check["topology"].get("nodes") or []
    addresses = {node["address"] for node in nodes}
    return (len(nodes) == MASTERS and all(node["state"] == "ready" for node in nodes)
            and (expected is None or expected in addresses))


def read_back(writer: ServiceProcess, reader: ServiceProcess, value: bytes) -> bool:
    """The reader forgets PROBE_KEY, the writer stores it in Redis, the reader
    reads it from Redis: the key's master serves both instances."""
    path = f"/cache/default/{PROBE_KEY}"
    try:
        if http(reader.base_url + path, method="DELETE")[0] != 204:
            return False
        status, headers, _ = http(writer.base_url + path, method="PUT", body=value)
        if status != 204 or headers.get("X-Cache-Stored") != "redis":
            return False
        status, headers, body = http(reader.base_url + path)
    except OSError:
        return False
    return status == 200 and headers.get("X-Cache") == "hit-redis" and body == value


def killed_under_load(service: ServiceProcess, kill: Callable[[], None],
                      ready: Callable[[], bool]) -> dict[str, Any]:
    """The trickle on `service`, `kill()` after STEADY_S, then seconds from
    the kill to the first poll for which `ready()` held (None: never)."""
    trickle = Trickle(service)
    time.sleep(STEADY_S)
    killed_at = time.monotonic()
    kill()
    ready_s = None
    while ready_s is None and time.monotonic() - killed_at < READY_LIMIT_S:
        polled = time.monotonic()
        if ready():
            ready_s = time.monotonic() - killed_at
        time.sleep(max(0.0, polled + POLL_INTERVAL_S - time.monotonic()))
    time.sleep(STEADY_S)
    return {"ready_s": ready_s, "killed_at": killed_at, "load": trickle.result()}


class Trickle(threading.Thread):
    """PUT k then GET k over 32 keys, TRICKLE_RATE a second at a steady pace
    (a slow answer is not made up for with a burst), each on a new connection,
    until `result()`: answers by class, refused and failed connections."""

    def __init__(self, service: ServiceProcess) -> None:
        super().__init__(daemon=True)
        self.port, self.stopping = service.port, threading.Event()
        self.counts = dict.fromkeys(("requests", "s2xx", "s404", "s4xx", "s5xx", "refused",
                                     "failed"), 0)
        self.max_ms = 0.0
        self.start()

    def run(self) -> None:
        next_at = time.monotonic()
        while not self.stopping.is_set():
            started, sent = time.perf_counter(), self.counts["requests"]
            connection = HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)
            try:
                path = f"/cache/default/t{sent // 2 % 32}"
                if sent % 2 == 0:
                    connection.request("PUT", path, TRICKLE_VALUE, {"Content-Type": "application/json"})
                else:
                    connection.request("GET", path)
                status = connection.getresponse().status
                self.counts["s2xx" if 200 <= status < 300 else "s404" if status == 404
                            else "s5xx" if status >= 500 else "s4xx"] += 1
            except ConnectionRefusedError:
                self.counts["refused"] += 1
            except (OSError, HTTPException):
                self.counts["failed"] += 1
            finally:
                connection.close()
            self.counts["requests"] += 1
            self.max_ms = max(self.max_ms, (time.perf_counter() - started) * 1000)
            next_at = max(next_at + 1 / TRICKLE_RATE, time.monotonic())
            self.stopping.wait(max(0.0, next_at - time.monotonic()))

    def result(self) -> dict[str, Any]:
        self.stopping.set()
        self.join()
        return {**self.counts, "max_ms": self.max_ms,
                "bad": sum(self.counts[name] for name in ("s5xx", "refused", "failed"))}


def sentinel_run(procs: Processes) -> dict[str, Any]:
    setup = se.start_sentinel_setup(procs, procs.run_dir)
    # The service imports while the sentinels find each other (~2 s: hellos).
    service = procs.service("service", {**LINK_ENV, **setup.env()}, wait=False)
    setup.wait_until_acquainted(SETUP_TIMEOUT_S, error=BenchError)
    service.wait_answering()
    wait_for(lambda: on_master(service, setup.master.port), READY_LIMIT_S,
             "the service on the master", error=BenchError)
    run = killed_under_load(service, setup.master.kill,
                            lambda: on_master(service, setup.replica.port))
    return {"ready_s": run["ready_s"], "old_master": f"{HOST}:{setup.master.port}",
            "new_master": f"{HOST}:{setup.replica.port}", "load": run["load"]}


def cluster_run(procs: Processes) -> dict[str, Any]:
    try:
        cluster = LocalCluster(procs, masters=MASTERS).start()
    except (AssertionError, RuntimeError) as exc:  # the harness's failures
        raise BenchError(f"cluster: {exc}") from exc
    # Cluster mode reads only credentials and TLS from REDIS_URL.
    env = {**LINK_ENV, "REDIS_CLUSTER_NODES": cluster.seeds, "REDIS_URL": "redis://127.0.0.1:1"}
    a, b = (procs.service(name, env, wait=False) for name in ("service-a", "service-b"))
    for service in (a, b):
        service.wait_answering()
        wait_for(partial(cluster_ready, service), READY_LIMIT_S,
                 f"{service.name} ready on every master", error=BenchError)
    victim = cluster.master_for(f"{PREFIX}:default:{PROBE_KEY}")
    promoted = f"{HOST}:{cluster.replica_of(victim).port}"
    cluster.close()  # its clients: the bench asks the service from here on
    wait_for(lambda: read_back(a, b, b"before"), READY_LIMIT_S,
             "the probe key read back before the kill", error=BenchError)
    topology_at: list[float] = []

    def ready() -> bool:
        if not cluster_ready(a, promoted):
            return False
        topology_at.append(time.monotonic())
        return read_back(a, b, f"after-{len(topology_at)}".encode())

    run = killed_under_load(a, victim.kill, ready)
    return {"ready_s": run["ready_s"],
            "topology_ready_s": topology_at[0] - run["killed_at"] if topology_at else None,
            "old_master": f"{HOST}:{victim.port}", "new_master": promoted, "load": run["load"]}


def load_total(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {**{name: sum(run["load"][name] for run in runs) for name in runs[0]["load"]},
            "max_ms": max(run["load"]["max_ms"] for run in runs)}


def run_failovers(run: Run) -> dict[str, Any]:
    # Each run with fresh processes, stopped after it.
    runs, procs = run.plan.failover_runs, run.procs
    sentinel = [procs.in_group(f"failover-sentinel-{i}", sentinel_run) for i in range(runs)]
    cluster = [procs.in_group(f"failover-cluster-{i}", cluster_run) for i in range(runs)]
    return {
        "runs": runs, "poll_interval_ms": POLL_INTERVAL_S * 1000, "service_env": LINK_ENV,
        "load": {"rate_per_s": TRICKLE_RATE, "mix": "PUT k then GET k, a new connection each"},
        "sentinel": {"down_after_ms": se.DOWN_AFTER_MS, "failover_timeout_ms": se.FAILOVER_TIMEOUT_MS,
                     "quorum": se.QUORUM, "target_s": SENTINEL_TARGET_S,
                     "ready": spread((r["ready_s"] for r in sentinel), "s"),
                     "load": load_total(sentinel), "rounds": sentinel},
        "cluster": {"node_timeout_ms": NODE_TIMEOUT_MS, "target_s": CLUSTER_TARGET_S,
                    "ready": spread((r["ready_s"] for r in cluster), "s"),
                    "topology_ready": spread((r["topology_ready_s"] for r in cluster), "s"),
                    "load": load_total(cluster), "rounds": cluster},
    }


def failover_report(failover: dict[str, Any]) -> Report:
    load, sentinel, cluster = failover["load"], failover["sentinel"], failover["cluster"]
    ready = [target(f"sentinel failover: slowest kill -> ready on the new master "
                    f"(down-after-milliseconds {sentinel['down_after_ms']} + 2 s)",
                    sentinel["ready"]["max_s"], sentinel["target_s"], "s"),
             target("cluster failover: slowest kill -> ready with the promoted replica, "
                    "the key read back from Redis", cluster["ready"]["max_s"], cluster["target_s"], "s")]
    rows = [row(mode, n(f["ready"]["min_s"]), n(f["ready"]["median_s"]), n(f["ready"]["max_s"]),
                *(str(f["load"][key]) for key in ("requests", "s5xx", "refused", "failed")),
                n(f["load"]["max_ms"], 1), target=f"<= {f['target_s']:.1f} s", goal=goal)
            for mode, f, goal in (("sentinel", sentinel, ready[0]), ("cluster", cluster, ready[1]))]
    return [table(
        (f"failover: master SIGKILLed, {failover['runs']} run(s) each, under "
         f"{load['rate_per_s']} req/s ({load['mix']}); /health/detailed polled every "
         f"{failover['poll_interval_ms']:.0f} ms; kill -> ready, s (min, median, max)"),
        ("min s", "median s", "max s", "requests", "5xx", "refused", "failed", "max ms"), rows,
        ((f"sentinel: down-after-milliseconds {sentinel['down_after_ms']}, failover-timeout "
          f"{sentinel['failover_timeout_ms']}, quorum {sentinel['quorum']}; ready = healthy, "
          "topology.master the promoted replica"),
         (f"cluster: cluster-node-timeout {cluster['node_timeout_ms']}; ready = every node ready "
          f"with the promoted replica (median {n(cluster['topology_ready']['median_s'])} s), "
          "then a key of the lost master PUT through A, read through B as hit-redis")))], [
        *ready, *(target(f"{mode} failover: 5xx answers, refused or failed connections",
                         failover[mode]["load"]["bad"], 0, "answers") for mode in ("sentinel", "cluster"))]
