"""Throughput comparisons: the service against a bare handler, same run.

Each comparison warms both servers up, then runs `rounds` rounds; a round
loads the service and the baseline one after the other, alternating which
goes first so that drift on a noisy machine hits both alike. Figures are
medians over the rounds (max latency: the worst round; error counts: summed).
The ratio is the median of the per-round ratios: the two runs of a round are
seconds apart, so a slow patch of the machine cancels out of their ratio,
while it can pull one side's median alone.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bench_load import Generator, LoadResult, Workload


@dataclass(frozen=True)
class Comparison:
    key: str
    title: str
    workload: Workload
    service_url: str
    baseline_url: str
    baseline: str
    target_ratio: float


def run_one(generator: Generator, url: str, workload: Workload, duration_s: int) -> LoadResult:
    return generator.start(url, workload, duration_s).wait()


def summarize(results: list[LoadResult]) -> dict[str, Any]:
    return {
        "rps": statistics.median(r.rps for r in results),
        "p50_ms": statistics.median(r.p50_ms for r in results),
        "p99_ms": statistics.median(r.p99_ms for r in results),
        "max_ms": max(r.max_ms for r in results),
        "requests": sum(r.requests for r in results),
        "non_2xx": sum(r.non_2xx for r in results),
        "socket_errors": sum(r.socket_errors for r in results),
        "rounds": [
            {"rps": r.rps, "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "max_ms": r.max_ms}
            for r in results
        ],
    }


def compare(generator: Generator, comparison: Comparison, *, rounds: int, duration_s: int,
            warmup_s: int) -> dict[str, Any]:
    urls = {"service": comparison.service_url, "baseline": comparison.baseline_url}
    if warmup_s > 0:
        for url in urls.values():
            run_one(generator, url, comparison.workload, warmup_s)
    results: dict[str, list[LoadResult]] = {"service": [], "baseline": []}
    for index in range(rounds):
        order = ("service", "baseline") if index % 2 == 0 else ("baseline", "service")
        for side in order:
            results[side].append(run_one(generator, urls[side], comparison.workload, duration_s))
    service, baseline = summarize(results["service"]), summarize(results["baseline"])
    paired = [
        s.rps / b.rps if b.rps else 0.0
        for s, b in zip(results["service"], results["baseline"], strict=True)
    ]
    ratio = statistics.median(paired)
    return {
        "title": comparison.title,
        "baseline_kind": comparison.baseline,
        "service": service,
        "baseline": baseline,
        "ratio": ratio,
        "ratio_of_medians": service["rps"] / baseline["rps"] if baseline["rps"] else 0.0,
        "ratio_per_round": paired,
        "target_ratio": comparison.target_ratio,
        "met": ratio >= comparison.target_ratio,
    }
