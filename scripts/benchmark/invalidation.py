"""Invalidation latency: how soon another instance serves a new value.

    B GET k (its memory now holds v0) ─► A PUT k=v1, acknowledged at t0
    ─► B GET k, again and again, until it answers v1 at t1: latency t1 - t0

Two services on one Redis with one key prefix; one key per sample, so every
sample starts from B's memory holding the old value. The latency includes
one GET round trip to B (the polling resolution), reported beside it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from http.client import HTTPConnection
from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.processes import BenchError, HttpProcess, Processes, ready
from scripts.benchmark.report import n, target

SAMPLES = 300
POLL_LIMIT_S = 2.0
TARGET_P99_MS = 10.0


def _client(server: HttpProcess) -> tuple[HTTPConnection, Callable[..., tuple[int, bytes]]]:
    """One keep-alive connection to `server`, and a call(method, path, body) on it."""
    connection = HTTPConnection("127.0.0.1", server.port, timeout=5)

    def call(method: str, path: str, body: bytes | None = None,
             expect: int | None = None) -> tuple[int, bytes]:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        answer = response.status, response.read()
        if expect is not None and answer[0] != expect:
            raise BenchError(f"{path} answered {answer[0]}, expected {expect}")
        return answer

    return connection, call


def measure_invalidation(a: HttpProcess, b: HttpProcess, samples: int = SAMPLES) -> dict[str, Any]:
    """Latency figures of `samples` keys written through `a`, read through `b`
    (two services of one Redis and one key prefix)."""
    (writing, write), (reading, read) = _client(a), _client(b)
    latencies, round_trips = [], []
    try:
        for i in range(samples):
            path = f"/cache/default/inv{i}"
            write("PUT", path, b"v0", expect=204)
            read("GET", path, expect=200)  # b's memory holds v0
            write("PUT", path, b"v1", expect=204)
            acknowledged = time.perf_counter()
            while True:
                started = time.perf_counter()
                status, body = read("GET", path)
                seen = time.perf_counter()
                if status == 200 and body == b"v1":
                    break
                if seen - acknowledged > POLL_LIMIT_S:
                    raise BenchError(f"{path}: the reader still served {body[:20]!r} after 2 s")
            latencies.append((seen - acknowledged) * 1000)
            round_trips.append((seen - started) * 1000)
    finally:
        writing.close()
        reading.close()
    return {"samples": samples, "p50_ms": statistics.median(latencies),
            "p99_ms": sorted(latencies)[min(samples - 1, int(0.99 * samples))],
            "max_ms": max(latencies), "get_round_trip_p50_ms": statistics.median(round_trips),
            "target_p99_ms": TARGET_P99_MS}


def run_invalidation(procs: Processes) -> dict[str, Any]:
    redis = procs.redis("redis-invalidation")
    a, b = ready(*(procs.service(f"service-invalidation-{name}", wl.service_env(
        "invalidation", redis.url), wait=False) for name in ("a", "b")))
    return measure_invalidation(a, b)


def invalidation_lines(figures: dict[str, Any]) -> list[str]:
    return ["", "invalidation: B serves A's new value, from A's PUT acknowledged",
            f"  {figures['samples']} keys: p50 {n(figures['p50_ms'])} ms, "
            f"p99 {n(figures['p99_ms'])} ms, max {n(figures['max_ms'])} ms (polling resolution: "
            f"one GET round trip, p50 {n(figures['get_round_trip_p50_ms'])} ms)"]


def invalidation_targets(figures: dict[str, Any]) -> list[dict[str, Any]]:
    return [target("invalidation latency p99 (A's PUT acknowledged -> B serves it)",
                   figures["p99_ms"], figures["target_p99_ms"], "ms")]
