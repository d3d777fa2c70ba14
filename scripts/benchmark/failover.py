"""Failover times: a Redis master SIGKILLed under light load, and how long
until the service is ready on its promoted replica.

One run, with its own fresh processes (stopped at its end), from the tests'
harness (scripts/harness/sentinel.py, redis_cluster.py):

    sentinel  master + replica + 3 sentinels (quorum 2, down-after-milliseconds
              1000, failover-timeout 5000); the service in Sentinel mode
              kill the master ─► poll /health/detailed until checks.redis is
              healthy and topology.master is the replica's address
    cluster   3 masters + 1 replica each; services A (under load) and B in
              cluster mode; kill the master serving PROBE_KEY ─► poll A's
              /health/detailed until it is healthy, every node in
              topology.nodes is ready and the promoted replica is one of them,
              and then B DELETE, A PUT (X-Cache-Stored: redis), B GET
              (X-Cache: hit-redis, the value A wrote) of PROBE_KEY pass

The time is kill -> the first poll that passed (polls every POLL_INTERVAL_S,
so the figure is late by at most one interval plus one round trip).
Throughout, trickle.py sends a few PUT+GET a second through the service;
any 5xx, refused or failed connection counts as bad. The service runs with
the defaults (the guide's 1, 2, 4... s backoff), REDIS_LAZY_CONNECT=false.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from scripts.benchmark.processes import (
    BenchError,
    HttpProcess,
    Process,
    Processes,
    http,
    http_json,
)
from scripts.harness import sentinel as se
from scripts.harness.redis_cluster import NODE_TIMEOUT_MS, LocalCluster
from scripts.harness.waiting import wait_for

HOST = "127.0.0.1"
POLL_INTERVAL_S = 0.025
READY_LIMIT_S = 30.0
SETUP_TIMEOUT_S = 20.0
# Load on the old master before the kill, and on the new one after ready.
STEADY_S = 0.5
TRICKLE_RATE = 10
PREFIX = "bench-failover"
PROBE_KEY = "failover-probe"
LINK_ENV = {"REDIS_LAZY_CONNECT": "false", "CACHE_KEY_PREFIX": PREFIX}
DOWN_AFTER_MS, FAILOVER_TIMEOUT_MS, SENTINELS = 1000, 5000, 3
SENTINEL_TARGET_S = DOWN_AFTER_MS / 1000 + 2.0
CLUSTER_TARGET_S = 15.0
MASTERS = 3


def redis_check(service: HttpProcess) -> dict[str, Any]:
    """checks.redis of /health/detailed ({} when the service does not answer)."""
    try:
        status, body = http_json(service.url + "/health/detailed")
    except OSError:
        return {}
    return body["checks"]["redis"] if status == 200 and body else {}


def on_master(service: HttpProcess, port: int) -> bool:
    check = redis_check(service)
    return check.get("status") == "healthy" and check["topology"].get("master") == f"{HOST}:{port}"


def cluster_ready(service: HttpProcess, expected: str | None = None) -> bool:
    check = redis_check(service)
    if check.get("status") != "healthy":
        return False
    nodes = check["topology"].get("nodes") or []
    addresses = {node["address"] for node in nodes}
    return (len(nodes) == MASTERS and all(node["state"] == "ready" for node in nodes)
            and (expected is None or expected in addresses))


def read_back(writer: HttpProcess, reader: HttpProcess, value: bytes) -> bool:
    """The reader forgets PROBE_KEY, the writer stores it in Redis, the reader
    reads it from Redis: the key's master serves both instances."""
    path = f"/cache/default/{PROBE_KEY}"
    try:
        if http(reader.url + path, method="DELETE")[0] != 204:
            return False
        status, headers, _ = http(writer.url + path, method="PUT", body=value)
        if status != 204 or headers.get("X-Cache-Stored") != "redis":
            return False
        status, headers, body = http(reader.url + path)
    except OSError:
        return False
    return status == 200 and headers.get("X-Cache") == "hit-redis" and body == value


def seconds_until(ready: Callable[[], bool], since: float) -> float | None:
    """Seconds from `since` to the first poll for which `ready()` held (None: never)."""
    while time.monotonic() - since < READY_LIMIT_S:
        polled = time.monotonic()
        if ready():
            return time.monotonic() - since
        time.sleep(max(0.0, polled + POLL_INTERVAL_S - time.monotonic()))
    return None


def start_trickle(procs: Processes, service: HttpProcess) -> Process:
    return procs.helper("trickle", "trickle", service.url, "--rate", str(TRICKLE_RATE))


def trickle_result(trickle: Process) -> dict[str, Any]:
    trickle.stop()  # SIGTERM: it prints its tally and exits
    figures = trickle.result(0)
    figures["bad"] = figures["s5xx"] + figures["refused"] + figures["failed"]
    return figures


def knows_everyone(sentinel: Any) -> bool:
    """The sentinel knows the replica and the other sentinels, so a kill is
    followed by a failover at once rather than after the discovery."""
    with sentinel.client() as client:
        fields = client.sentinel_master(se.MASTER_NAME)
    return bool(fields["flags"] == "master" and fields["num-slaves"] == 1
                and fields["num-other-sentinels"] == SENTINELS - 1)


def sentinel_run(procs: Processes) -> dict[str, Any]:
    setup = se.start_sentinel_setup(procs, procs.run_dir)
    # The service imports while the sentinels find each other (~2 s: hellos).
    service = procs.service("service", {**LINK_ENV, **setup.env()}, wait=False)
    wait_for(lambda: all(knows_everyone(s) for s in setup.sentinels), SETUP_TIMEOUT_S,
             "sentinels knowing the replica and each other", error=BenchError)
    service.wait_answering()
    wait_for(lambda: on_master(service, setup.master.port), READY_LIMIT_S,
             "the service on the master", error=BenchError)
    trickle = start_trickle(procs, service)
    time.sleep(STEADY_S)
    killed_at = time.monotonic()
    setup.master.kill()
    ready_s = seconds_until(lambda: on_master(service, setup.replica.port), killed_at)
    time.sleep(STEADY_S)
    return {"ready_s": ready_s, "old_master": f"{HOST}:{setup.master.port}",
            "new_master": f"{HOST}:{setup.replica.port}", "load": trickle_result(trickle)}


def cluster_run(procs: Processes) -> dict[str, Any]:
    try:
        cluster = LocalCluster(procs, masters=MASTERS).start()
    except (AssertionError, RuntimeError) as exc:  # the harness's failures
        raise BenchError(f"cluster: {exc}") from exc
    env = {**LINK_ENV, "REDIS_CLUSTER_NODES": cluster.seeds,
           # Cluster mode reads only credentials and TLS from it.
           "REDIS_URL": "redis://127.0.0.1:1"}
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
    trickle = start_trickle(procs, a)
    time.sleep(STEADY_S)
    killed_at = time.monotonic()
    victim.kill()
    topology_at: list[float] = []

    def ready() -> bool:
        if not cluster_ready(a, promoted):
            return False
        topology_at.append(time.monotonic())
        return read_back(a, b, f"after-{len(topology_at)}".encode())

    ready_s = seconds_until(ready, killed_at)
    time.sleep(STEADY_S)
    return {"ready_s": ready_s,
            "topology_ready_s": topology_at[0] - killed_at if topology_at else None,
            "old_master": f"{HOST}:{victim.port}", "new_master": promoted,
            "load": trickle_result(trickle)}


def spread(values: list[float | None]) -> dict[str, float | None]:
    """min / median / max over the runs; max is None when a run never got there."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return {"min_s": None, "median_s": None, "max_s": None}
    return {"min_s": present[0], "median_s": statistics.median(present),
            "max_s": None if len(present) < len(values) else present[-1]}


def load_total(runs: list[dict[str, Any]]) -> dict[str, Any]:
    names = ("requests", "s2xx", "s404", "s4xx", "s5xx", "refused", "failed", "bad")
    total: dict[str, Any] = {name: sum(run["load"][name] for run in runs) for name in names}
    total["max_ms"] = max(run["load"]["max_ms"] for run in runs)
    return total


def run_failovers(procs: Processes, runs: int) -> dict[str, Any]:
    # Each run with fresh processes, stopped after it.
    sentinel = [procs.in_group(f"failover-sentinel-{i}", sentinel_run) for i in range(runs)]
    cluster = [procs.in_group(f"failover-cluster-{i}", cluster_run) for i in range(runs)]
    return {
        "runs": runs,
        "poll_interval_ms": POLL_INTERVAL_S * 1000,
        "load": {"rate_per_s": TRICKLE_RATE, "mix": "PUT k then GET k, a new connection each"},
        "service_env": LINK_ENV,
        "sentinel": {
            "down_after_ms": DOWN_AFTER_MS, "failover_timeout_ms": FAILOVER_TIMEOUT_MS,
            "quorum": se.QUORUM, "target_s": SENTINEL_TARGET_S,
            "ready": spread([r["ready_s"] for r in sentinel]),
            "load": load_total(sentinel), "rounds": sentinel,
        },
        "cluster": {
            "node_timeout_ms": NODE_TIMEOUT_MS, "target_s": CLUSTER_TARGET_S,
            "ready": spread([r["ready_s"] for r in cluster]),
            "topology_ready": spread([r["topology_ready_s"] for r in cluster]),
            "load": load_total(cluster), "rounds": cluster,
        },
    }
