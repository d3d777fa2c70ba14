"""Comparisons of two servers, two ways: one after the other (each alone
under the full load: absolute req/s, p50, p99) and side by side (both on
the one server CPU at once, each under half the load: the ratio).

Method and why: docs/performance.md, "How to run it".
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from scripts.benchmark.load import Generator, LoadResult, Workload
from scripts.benchmark.processes import BenchError

T = TypeVar("T")


class Server(Protocol):
    @property
    def base_url(self) -> str: ...
    def cpu_seconds(self) -> float: ...


@dataclass(frozen=True)
class Comparison:
    """The service against its baseline; each side is one or more identical
    processes, and round i loads instance i mod n of each (see `pair`)."""

    key: str
    title: str
    workload: Workload
    services: tuple[Server, ...]
    baselines: tuple[Server, ...]
    baseline_kind: str
    target_ratio: float
    baseline_workload: Workload | None = None  # default: `workload`
    strict: bool = False
    alone: bool = True  # also one after the other

    def load(self, side: str) -> Workload:
        return self.workload if side == "service" else self.baseline_workload or self.workload

    def pair(self, index: int) -> tuple[Server, Server]:
        return (self.services[index % len(self.services)],
                self.baselines[index % len(self.baselines)])


@dataclass(frozen=True)
class Measured:
    load: LoadResult
    cpu_s: float

    @property
    def cpu_us_per_request(self) -> float:
        return self.cpu_s * 1e6 / self.load.requests if self.load.requests else 0.0


@dataclass(frozen=True)
class Rounds:
    rounds: int
    duration_s: int
    side_by_side_rounds: int
    side_by_side_s: int
    warmup_s: int
    instances: int


def rotated(items: Sequence[T], index: int) -> list[T]:
    """`items` starting from item `index` mod len: round `index`'s order, so
    that no item always runs first (with two items: alternating order)."""
    start = index % len(items)
    return [*items[start:], *items[:start]]


def per_round(key: str, over: Iterable[float], under: Iterable[float]) -> dict[str, Any]:
    """`key`: the median of the per-round ratios over/under (0.0 where under
    is 0), and `key`_per_round: the ratios themselves."""
    ratios = [o / u if u else 0.0 for o, u in zip(over, under, strict=True)]
    return {key: statistics.median(ratios), f"{key}_per_round": ratios}


def medians(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in rows) for key in rows[0]}


def checked(load: LoadResult, what: str) -> LoadResult:
    if load.non_2xx or load.socket_errors or not load.requests:
        raise BenchError(f"{what}: {load.non_2xx} non-2xx, {load.socket_errors} socket errors")
    return load


def run_one(generator: Generator, server: Server, workload: Workload,
            duration_s: int, strict: bool = False) -> Measured:
    cpu_before = server.cpu_seconds()
    load = generator.start(server.base_url, workload, duration_s).wait()
    return Measured(checked(load, workload.name) if strict else load,
                    server.cpu_seconds() - cpu_before)


def summarize(measured: list[Measured]) -> dict[str, Any]:
    """Medians of the rounds' figures, their worst max latency and summed counts."""
    rounds = [{"rps": m.load.rps, "p50_ms": m.load.p50_ms, "p99_ms": m.load.p99_ms,
               "max_ms": m.load.max_ms, "cpu_us_per_request": m.cpu_us_per_request}
              for m in measured]
    return {**medians(rounds), "max_ms": max(r["max_ms"] for r in rounds),
            **{key: sum(getattr(m.load, key) for m in measured)
               for key in ("requests", "non_2xx", "socket_errors")}, "rounds": rounds}


def one_after_the_other(generator: Generator, comparison: Comparison,
                        rounds: int, duration_s: int) -> dict[str, list[Measured]]:
    results: dict[str, list[Measured]] = {"service": [], "baseline": []}
    for index in range(rounds):
        service, baseline = comparison.pair(index)
        servers = {"service": service, "baseline": baseline}
        for side in rotated(("service", "baseline"), index):
            results[side].append(run_one(generator, servers[side], comparison.load(side),
                                         duration_s, comparison.strict))
    return results


def side_by_side(generator: Generator, comparison: Comparison, rounds: int,
                 duration_s: int) -> dict[str, Any]:
    """Both loaded at once, `rounds` times; medians per side and of the ratios."""
    figures: dict[str, list[dict[str, float]]] = {"baseline": [], "service": []}
    for index in range(rounds):
        service, baseline = comparison.pair(index)
        sides = (("baseline", baseline), ("service", service))
        cpu = {name: server.cpu_seconds() for name, server in sides}
        running = {name: generator.start(server.base_url, comparison.load(name), duration_s)
                   for name, server in rotated(sides, index)}
        for name, server in sides:
            load = running[name].wait()
            if comparison.strict:
                checked(load, comparison.load(name).name)
            used = server.cpu_seconds() - cpu[name]
            figures[name].append({"rps": load.rps, "p99_ms": load.p99_ms,
                                  "cpu_us_per_request": used * 1e6 / max(1, load.requests)})
    ours, theirs = figures["service"], figures["baseline"]
    return {name: medians(rows) for name, rows in figures.items()} | per_round(
        "ratio", (s["rps"] for s in ours), (b["rps"] for b in theirs)) | per_round(
        # The same comparison without the scheduler's share: CPU cost per request.
        "cpu_ratio", (b["cpu_us_per_request"] for b in theirs),
        (s["cpu_us_per_request"] for s in ours)) | {"rounds": figures}


def compare(generator: Generator, split: Generator, comparison: Comparison,
            plan: Rounds) -> dict[str, Any]:
    """`generator` drives one server at a time; `split` (half the load) each of
    two. Without `comparison.alone`, side by side only (no alone figures)."""
    if plan.warmup_s > 0:
        # Every instance at once: warming is about first requests, not speed.
        for load in [split.start(server.base_url, comparison.load(side), plan.warmup_s)
                     for side, servers in (("service", comparison.services),
                                           ("baseline", comparison.baselines))
                     for server in servers]:
            load.wait()
    figures: dict[str, Any] = {"title": comparison.title, "baseline_kind": comparison.baseline_kind,
                               "instances": len(comparison.services)}
    if comparison.alone:
        alone = one_after_the_other(generator, comparison, plan.rounds, plan.duration_s)
        figures.update(service=summarize(alone["service"]), baseline=summarize(alone["baseline"]),
                       **per_round("ratio_one_after_the_other",
                                   (m.load.rps for m in alone["service"]),
                                   (m.load.rps for m in alone["baseline"])))
    together = side_by_side(split, comparison, plan.side_by_side_rounds, plan.side_by_side_s)
    return {**figures, **{key: together[key] for key in (
        "ratio", "ratio_per_round", "cpu_ratio", "cpu_ratio_per_round")},
        "side_by_side": {"service": together["service"], "baseline": together["baseline"]},
        "target_ratio": comparison.target_ratio,
        "met": together["ratio"] >= comparison.target_ratio}
