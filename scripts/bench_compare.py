"""Throughput comparisons: the service against a bare handler, same run.

Each comparison warms both servers up, then runs `rounds` rounds; a round
loads the service and the baseline one after the other, alternating which
goes first so that drift on a noisy machine hits both alike. Figures are
medians over the rounds (max latency: the worst round; error counts: summed).
The ratio is the median of the per-round ratios: the two runs of a round are
seconds apart, so a slow patch of the machine cancels out of their ratio,
while it can pull one side's median alone. Each side's CPU time per request
(from /proc, so the servers must be this machine's processes) is the figure
the machine's drift disturbs least.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Protocol

from bench_load import Generator, LoadResult, Workload


class Server(Protocol):
    @property
    def url(self) -> str: ...
    def cpu_seconds(self) -> float: ...


@dataclass(frozen=True)
class Comparison:
    key: str
    title: str
    workload: Workload
    service: Server
    baseline: Server
    baseline_kind: str
    target_ratio: float


@dataclass(frozen=True)
class Measured:
    load: LoadResult
    cpu_s: float

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s * 1e6 / self.load.requests if self.load.requests else 0.0


def run_one(generator: Generator, server: Server, workload: Workload,
            duration_s: int) -> Measured:
    cpu_before = server.cpu_seconds()
    load = generator.start(server.url, workload, duration_s).wait()
    return Measured(load, server.cpu_seconds() - cpu_before)


def summarize(measured: list[Measured]) -> dict[str, Any]:
    results = [m.load for m in measured]
    return {
        "cpu_us_per_request": statistics.median(m.cpu_us_per_request for m in measured),
        "rps": statistics.median(r.rps for r in results),
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
        "max_ms": max(r.max_ms for r in results),
        "requests": sum(r.requests for r in results),
        "non_2xx": sum(r.non_2xx for r in results),
        "socket_errors": sum(r.socket_errors for r in results),
        "rounds": [
            {"rps": m.load.rps, "p50_ms": m.load.p50_ms, "p99_ms": m.load.p99_ms,
             "max_ms": m.load.max_ms, "cpu_us_per_request": m.cpu_us_per_request}
            for m in measured
        ],
    }


def compare(generator: Generator, comparison: Comparison, *, rounds: int, duration_s: int,
            warmup_s: int) -> dict[str, Any]:
    servers = {"service": comparison.service, "baseline": comparison.baseline}
    if warmup_s > 0:
        for server in servers.values():
            run_one(generator, server, comparison.workload, warmup_s)
    results: dict[str, list[Measured]] = {"service": [], "baseline": []}
    for index in range(rounds):
        order = ("service", "baseline") if index % 2 == 0 else ("baseline", "service")
        for side in order:
            results[side].append(run_one(generator, servers[side], comparison.workload,
                                         duration_s))
    service, baseline = summarize(results["service"]), summarize(results["baseline"])
    paired = [
        s.load.rps / b.load.rps if b.load.rps else 0.0
        for s, b in zip(results["service"], results["baseline"], strict=True)
    ]
    ratio = statistics.median(paired)
    return {
        "title": comparison.title,
        "baseline_kind": comparison.baseline_kind,
        "cpu_ratio": (baseline["cpu_us_per_request"] / service["cpu_us_per_request"]
                      if service["cpu_us_per_request"] else 0.0),
        "service": service,
        "baseline": baseline,
        "ratio": ratio,
        "ratio_of_medians": service["rps"] / baseline["rps"] if baseline["rps"] else 0.0,
        "ratio_per_round": paired,
        "target_ratio": comparison.target_ratio,
        "met": ratio >= comparison.target_ratio,
    }
