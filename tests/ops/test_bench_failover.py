"""scripts/bench --only failover: one Sentinel and one Cluster run end to end
(about 15 s, shared by the module), checked for the report's shape, never
its speed; and the summary and targets on made-up figures."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripts.benchmark.failover import failover_report
from scripts.benchmark.report import spread, table_lines
from scripts.harness.redis_cluster import parse_cluster_nodes

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench"
RUN_TIMEOUT_S = 80
LOAD_FIELDS = ("requests", "s2xx", "s404", "s4xx", "s5xx", "refused", "failed", "bad")


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench-failover") / "figures.json"
    done = subprocess.run(
        [str(BENCH), "--only", "failover", "--failover-runs", "1", "--json", str(out)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


@pytest.mark.redis
@pytest.mark.timeout(RUN_TIMEOUT_S + 10)
def test_one_run_of_each_failover_is_reported(run: tuple[dict[str, Any], str]) -> None:
    figures, table = run
    assert figures["settings"]["failover_runs"] == 1
    assert set(figures) >= {"failover", "targets"}
    assert not {"throughput", "outage", "memory_tier", "invalidation"} & set(figures)
    failover = figures["failover"]
    assert failover["runs"] == 1
    for mode in ("sentinel", "cluster"):
        section = failover[mode]
        assert is_number(section["target_s"])
        assert set(section["ready"]) == {"min_s", "median_s", "max_s"}
        assert all(v is None or is_number(v) for v in section["ready"].values())
        assert len(section["rounds"]) == 1
        done = section["rounds"][0]
        assert done["old_master"] != done["new_master"]
        assert done["ready_s"] is None or is_number(done["ready_s"])
        assert done["load"]["requests"] > 0
        for name in LOAD_FIELDS:
            assert isinstance(section["load"][name], int), (mode, name)
        assert f"\n{mode} " in table
    assert failover["sentinel"]["down_after_ms"] == 1000
    assert set(failover["cluster"]["topology_ready"]) == {"min_s", "median_s", "max_s"}
    names = [t["name"] for t in figures["targets"]]
    assert len(names) == 4 and all("failover" in name for name in names)
    assert "failover: master SIGKILLed" in table


def test_a_run_that_never_got_ready_leaves_no_max_and_misses_the_target() -> None:
    assert spread([2.0, None, 1.0], "s") == {"min_s": 1.0, "median_s": 1.5, "max_s": None}
    assert spread([None], "s") == {"min_s": None, "median_s": None, "max_s": None}
    assert spread([3.0, 1.0, 2.0], "s")["median_s"] == 2.0
    load = {name: 0 for name in LOAD_FIELDS} | {"max_ms": 1.0}
    mode = {"target_s": 3.0, "ready": spread([2.0, None], "s"), "load": load,
            "topology_ready": spread([1.0], "s")}
    failover = {"runs": 2, "poll_interval_ms": 25, "load": {"rate_per_s": 10, "mix": "m"},
                "sentinel": {**mode, "down_after_ms": 1000, "failover_timeout_ms": 5000,
                             "quorum": 2},
                "cluster": {**mode, "node_timeout_ms": 1000}}
    (table,), found = failover_report(failover)
    assert [t["met"] for t in found] == [False, False, True, True]
    assert [(r["label"], r["figures"][2], r["met"]) for r in table["rows"]] == [
        ("sentinel", "-", False), ("cluster", "-", False)]
    assert "  -" in "\n".join(table_lines(table))


def test_cluster_nodes_parses_redis_cli_output() -> None:
    text = (
        "a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\n"
        "b2 127.0.0.1:7001@17001 slave a1 0 1 1 connected\n"
        "c3 127.0.0.1:7002@17002 master,fail - 0 1 2 disconnected 5461 6000-6001 [7-<-x]\n"
    )
    first, replica, failed = parse_cluster_nodes(text)
    assert (f"127.0.0.1:{first.port}", first.is_master, first.slots) == ("127.0.0.1:7000", True, ((0, 5460),))
    assert (replica.master_id, replica.is_master, replica.failing) == ("a1", False, False)
    assert failed.failing and failed.slots == ((5461, 5461), (6000, 6001))
