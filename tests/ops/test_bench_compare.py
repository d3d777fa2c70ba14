"""scripts/benchmark/compare.py: rounds rotate over the instances of each side, and
the side-by-side ratios (throughput and CPU per request) come from the
rounds' own figures. Fake servers and a fake generator: no processes; every
wrk run (of the full and of the halved load) writes and reads a log of its
own. And
--compare's pieces (ab.py): the slot's bias removed from the two
orientations' ratios, and the tree a git ref names. And the one table
writer (report.py) every section's rows go through."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scripts.benchmark.ab import combined, tree_of
from scripts.benchmark.compare import Comparison, per_round, rotated, side_by_side
from scripts.benchmark.load import LoadResult, Request, Workload, Wrk
from scripts.benchmark.processes import BenchError, result
from scripts.benchmark.report import row, table, table_lines, target, targets_table
from scripts.harness.service_process import ChildProcess

WORKLOAD = Workload("w", (Request("GET", "/x"),))


@dataclass
class FakeServer:
    """Answers `rps` requests a second at `cpu_us` of CPU each."""

    base_url: str
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
    generator = FakeGenerator({s.base_url: s for s in (*services, *baselines)})
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


def test_the_slot_bias_cancels_between_the_two_orientations() -> None:
    # This tree 2 % faster, the "service" slot 3 % slow whoever is in it.
    forward = {"ratio": 1.02 * 0.97, "ratio_per_round": [0.98, 1.02 * 0.97, 1.0]}
    swapped = {"ratio": 0.97 / 1.02, "ratio_per_round": [0.94, 0.97 / 1.02, 0.96]}
    row = combined(forward, swapped)
    assert row["ratio"] == pytest.approx(1.02)
    assert row["ratio_min"] == pytest.approx(math.sqrt(0.98 / 0.96))
    assert row["ratio_max"] == pytest.approx(math.sqrt(1.0 / 0.94))
    assert row["forward"] is forward and row["swapped"] is swapped


def test_a_git_ref_is_extracted_and_a_bad_one_is_refused(tmp_path: Path) -> None:
    tree = tree_of("HEAD", tmp_path)
    assert (tree / "service" / "__main__.py").is_file() and tree.parent == tmp_path
    assert tree_of(str(tree), tmp_path / "unused") == tree  # a checkout is taken as it is
    with pytest.raises(BenchError, match="no-such-ref"):
        tree_of("no-such-ref", tmp_path / "other")


def test_every_wrk_run_has_a_log_of_its_own_and_its_last_result_counts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The full and the halved load are two Wrk objects: once they numbered
    # their runs apart, shared wrk-N-<workload>.log and read each other's figures.
    # A stand-in wrk on PATH: the numbering is under test, not wrk (which
    # scripts/bench installs and scripts/test does not).
    stand_in = tmp_path / "bin" / "wrk"
    stand_in.parent.mkdir()
    stand_in.write_text('#!/bin/sh\n[ "$1" = --version ] && exec echo "wrk 4.1.0"\nexec sleep 30\n')
    stand_in.chmod(0o755)
    monkeypatch.setenv("PATH", f"{stand_in.parent}:{os.environ['PATH']}")
    full, half = Wrk(2, 4, tmp_path, None), Wrk(1, 2, tmp_path, None)
    runs = [generator.start("http://127.0.0.1:9", WORKLOAD, 1) for generator in (full, half, full)]
    for run in runs:
        run.stop()
    assert len({run.process.log_path for run in runs}) == 3
    log = tmp_path / "helper.log"
    log.write_text('BENCH_JSON {"run": 1}\n')
    helper = ChildProcess(["sh", "-c", 'echo \'BENCH_JSON {"run": 2}\''], log)
    helper.spawn()
    assert result(helper, 10) == {"run": 2}


def test_rounds_rotate_and_per_round_ratios_have_their_median() -> None:
    assert [rotated("abc", i) for i in range(4)] == [
        list("abc"), list("bca"), list("cab"), list("abc")]
    assert [rotated(("s", "b"), i) for i in range(2)] == [["s", "b"], ["b", "s"]]
    assert per_round("scaling", [3.0, 2.0, 9.0], [2.0, 0.0, 3.0]) == {
        "scaling": 1.5, "scaling_per_round": [1.5, 0.0, 3.0]}


def test_a_table_aligns_its_columns_and_prints_each_verdict() -> None:
    written = table("title", ("req/s", "p99 ms"), (
        row("long label", "1,234", "0.50", target=">= 0.95x", met=True),
        row("  a note row, as long as it likes to be"),
        row("short", "5", "12.25", target=">= 1.60x", met=False),
        row("no goal", "6", "7.00")), ("a note",))
    lines = table_lines(written)
    assert lines == [
        "",
        "title",
        "            req/s  p99 ms    target",
        "long label  1,234    0.50  >= 0.95x  MET",
        "  a note row, as long as it likes to be",
        "short           5   12.25  >= 1.60x  NOT MET",
        "no goal         6    7.00",
        "  a note",
    ]


def test_the_targets_are_a_table_too() -> None:
    (found,) = targets_table([target("p99", 12.0, 10.0, "ms")])["rows"]
    assert found == {"label": "p99", "figures": ["12.0 ms"], "target": "<= 10.0 ms", "met": False}


def test_a_table_of_notes_alone_is_written_too() -> None:
    """A table whose rows carry no figures (a run that measured nothing of
    it) is its title, headers and notes: what --compare printed crashed on."""
    written = table("title", ("ratio",), (row("  nothing measured"),), ())
    assert table_lines(written) == ["", "title", "  ratio", "  nothing measured"]
