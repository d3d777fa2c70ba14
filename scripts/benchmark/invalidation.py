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
from typing import Any

from scripts.benchmark import workloads as wl
from scripts.benchmark.processes import BenchError, Connection, Processes, ready
from scripts.benchmark.report import n, target
from scripts.harness.service_process import ServiceProcess

SAMPLES = 300
POLL_LIMIT_S = 2.0
TARGET_P99_MS = 10.0


def measure_invalidation(a: ServiceProcess, b: ServiceProcess, samples: int = SAMPLES) -> dict[str, Any]:
    """Latency figures of `samples` keys written through `a`, read through `b`
    (two services of one Redis and one key prefix)."""
    writer, reader = Connection(a.port), Connection(b.port)
    write, read = writer.call, reader.call
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
                status, _, body = read("GET", path)
                seen = time.perf_counter()
                if status == 200 and body == b"v1":
                    break
                if seen - acknowledged > POLL_LIMIT_S:
                    raise BenchError(f"{path}: the reader still served {body[:20]!r} after 2 s")
            latencies.append((seen - acknowledged) * 1000)
            round_trips.append((seen - started) * 1000)
    finally:
        writer.close()
        reader.close()
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
