"""Invalidation latency: how soon another instance serves a new value.

    B GET k (its memory now holds v0) ─► A PUT k=v1, acknowledged at t0
    ─► B GET k, again and again, until it answers v1 at t1: latency t1 - t0

Two services on one Redis with one key prefix; one key per sample, so every
sample starts from B's memory holding the old value. The latency includes
one GET round trip to B (the polling resolution), reported beside it.
"""

from __future__ import annotations

import http.client
import statistics
import time
from typing import Any

from scripts.benchmark.processes import BenchError, HttpProcess

SAMPLES = 300
POLL_LIMIT_S = 2.0


class _Client:
    """One keep-alive HTTP connection to a service."""

    def __init__(self, server: HttpProcess) -> None:
        host_port = server.url.removeprefix("http://")
        self._connection = http.client.HTTPConnection(host_port, timeout=5)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self._connection.request(method, path, body=body)
        response = self._connection.getresponse()
        return response.status, response.read()

    def close(self) -> None:
        self._connection.close()


def measure_invalidation(a: HttpProcess, b: HttpProcess, samples: int = SAMPLES) -> dict[str, Any]:
    """Latency figures of `samples` keys written through `a`, read through `b`
    (two services of one Redis and one key prefix)."""
    writer, reader = _Client(a), _Client(b)
    try:
        latencies, round_trips = [], []
        for i in range(samples):
            path = f"/cache/default/inv{i}"
            _expect(writer.call("PUT", path, b"v0"), 204, path)
            _expect(reader.call("GET", path), 200, path)  # b's memory holds v0
            _expect(writer.call("PUT", path, b"v1"), 204, path)
            acknowledged = time.perf_counter()
            while True:
                started = time.perf_counter()
                status, body = reader.call("GET", path)
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
    return {
        "samples": samples,
        "p50_ms": statistics.median(latencies),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": max(latencies),
        "get_round_trip_p50_ms": statistics.median(round_trips),
        "target_p99_ms": 10.0,
    }


def _expect(answer: tuple[int, bytes], status: int, path: str) -> None:
    if answer[0] != status:
        raise BenchError(f"{path} answered {answer[0]}, expected {status}")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
