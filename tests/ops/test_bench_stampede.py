"""scripts/bench --only stampede with small numbers (20 callers, 1 round,
200 ms computations, 1 hit-cost round: about 8 s): the report's shape, and
one computation per stampede with leases (a behaviour, not a speed); and the
summary of herd.py's outcomes on made-up callers."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripts.benchmark.stampede import summarize_herd, summarize_scenario

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench"
RUN_TIMEOUT_S = 60
CALLERS = 20
COMPUTE_MS = 200


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench-stampede") / "figures.json"
    done = subprocess.run(
        [str(BENCH), "--only", "stampede", "--stampede-callers", str(CALLERS),
         "--stampede-rounds", "1", "--stampede-compute-ms", str(COMPUTE_MS), "--rounds", "1",
         "--json", str(out)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


@pytest.mark.redis
@pytest.mark.timeout(RUN_TIMEOUT_S + 10)
def test_a_stampede_with_leases_costs_one_computation(run: tuple[dict[str, Any], str]) -> None:
    figures, table = run
    assert set(figures) >= {"stampede", "targets"}
    assert not {"throughput", "outage", "memory_tier", "invalidation", "failover"} & set(figures)
    stampede = figures["stampede"]
    assert (stampede["callers"], stampede["rounds"], stampede["compute_ms"]) == (
        CALLERS, 1, COMPUTE_MS)
    lease, plain = stampede["lease"], stampede["plain"]
    assert lease["computations_per_round"] == [1]
    assert lease["errors"] == lease["wrong_values"] == lease["puts_refused"] == 0
    (row,) = lease["rounds"]
    assert row["answers"].get("hit-fill", 0) + row["answers"].get("hit-memory", 0) \
        + row["answers"].get("hit-redis", 0) == CALLERS - 1
    assert stampede["server_lease_counters"]["issued"] == 1
    # Without leases every caller that missed computed: all of them, here.
    assert plain["computations_per_round"] == [CALLERS] and plain["errors"] == 0
    for mode in (lease, plain):
        assert all(is_number(mode[name]) for name in ("p50_ms", "p99_ms", "max_ms"))
        assert mode["p50_ms"] <= mode["p99_ms"] <= mode["max_ms"]
    assert lease["p50_ms"] >= COMPUTE_MS  # nobody had the value before it was computed
    hit = stampede["hit_cost"]
    assert len(hit["ratio_per_round"]) == len(hit["ratio_one_after_the_other_per_round"]) == 1
    assert all(is_number(hit[name]) for name in ("ratio", "cpu_ratio", "ratio_one_after_the_other"))
    assert all(is_number(hit[side]["rps"]) for side in ("service", "baseline"))
    names = [t["name"] for t in figures["targets"]]
    assert len(names) == 4 and all("lease" in name for name in names)
    assert figures["targets"][0]["met"] is True
    assert "stampede: 20 callers" in table and "?lease=1 on a memory hit" in table


def _caller(how: str, ms: float | None, **more: Any) -> dict[str, Any]:
    return {"instance": 0, "how": how, "ms": ms, "retries": 0, "asked_ms": 1.0,
            "first_answer_ms": ms, "put_status": None, "put_done_ms": None,
            "right_value": how != "error", "error": None, **more}


def test_the_summary_counts_computations_retries_and_the_timeline() -> None:
    callers = [
        _caller("computed", 500.0, first_answer_ms=3.0, put_status=204, put_done_ms=502.0),
        _caller("hit-fill", 510.0), _caller("hit-fill", 505.0, retries=1),
        _caller("hit-memory", 600.0),
        _caller("error", None, right_value=False, error="GET answered 500"),
    ]
    row = summarize_scenario(callers)
    assert (row["computations"], row["retries"], row["errors"], row["wrong_values"]) == (1, 1, 1, 0)
    assert row["answers"] == {"computed": 1, "hit-fill": 2, "hit-memory": 1, "error": 1}
    assert (row["first_token_ms"], row["first_put_done_ms"]) == (3.0, 502.0)
    assert row["fill_after_put_max_ms"] == 8.0 and row["max_ms"] == 600.0
    assert row["error_samples"] == ["GET answered 500"]
    plain = [_caller("computed", 500.0, put_status=409, put_done_ms=501.0)] * 3
    both = summarize_herd([{"lease": {"callers": callers}, "plain": {"callers": plain}}] * 2)
    assert both["lease"]["computations_per_round"] == [1, 1]
    assert both["plain"]["computations_max"] == 3 and both["plain"]["puts_refused"] == 6
