"""scripts/benchmark/compare.py: rounds rotate over the instances of each side, and
the side-by-side ratios (throughput and CPU per request) come from the
rounds' own figures. Fake servers and a fake generator: no processes."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from scripts.benchmark.compare import Comparison, side_by_side
from scripts.benchmark.load import LoadResult, Request, Workload

WORKLOAD = Workload("w", (Request("GET", "/x"),))


@dataclass
class FakeServer:
    """Answers `rps` requests a second at `cpu_us` of CPU each."""

    url: str
    rps: float
    cpu_us: float
    used_s: float = 0.0
    loaded: int = 0

    def cpu_seconds(self) -> float:
        return self.used_s


@dataclass
class FakeRun:
    server: FakeServer
    duration_s: int

    def wait(self) -> LoadResult:
        requests = int(self.server.rps * self.duration_s)
        self.server.used_s += requests * self.server.cpu_us / 1e6
        self.server.loaded += 1
        return LoadResult(requests, float(self.duration_s), 1.0, 2.0, 3.0, 0, 0)

    def stop(self) -> None:
        pass


@dataclass
class FakeGenerator:
    servers: dict[str, FakeServer] = field(default_factory=dict)
    name: str = "fake"
    version: str = "0"
    threads: int = 1
    connections: int = 1

    def start(self, base_url: str, workload: Workload, duration_s: int, *,
              statuses: bool = False) -> FakeRun:
        return FakeRun(self.servers[base_url], duration_s)


def test_rounds_rotate_over_instances_and_ratios_come_from_each_round() -> None:
    services = (FakeServer("s0", 900, 110), FakeServer("s1", 950, 105))
    baselines = (FakeServer("b0", 1000, 100), FakeServer("b1", 1000, 100))
    generator = FakeGenerator({s.url: s for s in (*services, *baselines)})
    comparison = Comparison("k", "title", WORKLOAD, services, baselines, "bare", 0.9)

    assert [comparison.pair(i) for i in range(3)] == [
        (services[0], baselines[0]), (services[1], baselines[1]), (services[0], baselines[0])
    ]
    result = side_by_side(generator, comparison, rounds=4, duration_s=2)

    assert [server.loaded for server in (*services, *baselines)] == [2, 2, 2, 2]
    assert result["ratio_per_round"] == [0.9, 0.95, 0.9, 0.95]
    assert result["cpu_ratio_per_round"] == pytest.approx([100 / 110, 100 / 105] * 2)
    assert result["ratio"] == pytest.approx((0.9 + 0.95) / 2)
    assert result["service"]["cpu_us_per_request"] == pytest.approx((110 + 105) / 2)
    assert result["baseline"]["rps"] == 1000
