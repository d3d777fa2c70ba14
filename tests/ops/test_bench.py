"""scripts/bench --quick runs end to end and its JSON holds every figure.

The targets themselves are read by people (a noisy machine may miss one);
these tests check only that every figure is there, with the right type.
One --quick run (about 20 s) is shared by the whole module.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from scripts.benchmark.throughput import HOT_PATH

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "scripts" / "bench"
RUN_TIMEOUT_S = 150

pytestmark = [pytest.mark.slow, pytest.mark.redis, pytest.mark.timeout(RUN_TIMEOUT_S + 30)]


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def assert_numbers(figures: dict[str, Any], *names: str) -> None:
    for name in names:
        assert is_number(figures[name]), (name, figures[name])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    out = tmp_path_factory.mktemp("bench") / "figures.json"
    done = subprocess.run(
        # One round, one process of each server: the rotation over instances
        # is tested without load (test_bench_compare.py), and every extra
        # round here cost the suite ~15 s.
        [str(BENCH), "--quick", "--json", str(out)],
        capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_run_describes_machine_generator_and_settings(run: tuple[dict[str, Any], str]) -> None:
    figures, table = run
    assert figures["schema"] == 1
    assert is_number(figures["runtime_s"])
    machine = figures["machine"]
    assert isinstance(machine["cpu_model"], str) and isinstance(machine["cpus"], int)
    assert isinstance(machine["redis_server"], str)
    generator = figures["generator"]
    assert generator["name"] == "wrk"
    assert isinstance(generator["version"], str)
    assert isinstance(generator["threads"], int) and isinstance(generator["connections"], int)
    assert figures["settings"]["quick"] is True
    assert isinstance(figures["settings"]["rounds"], int)
    assert generator["name"] in table and "targets" in table


def test_throughput_comparisons_have_both_sides_and_a_ratio(
    run: tuple[dict[str, Any], str],
) -> None:
    figures, _ = run
    rounds = figures["settings"]["rounds"]
    throughput = figures["throughput"]
    alone = {"memory_hit_get", "redis_hit_get", "put"}
    webdis = {"memory_hit_vs_webdis", "redis_hit_vs_webdis", "mget_memory_vs_webdis",
              "mget_redis_vs_webdis"}
    assert set(throughput) == alone | webdis
    for key, comparison in throughput.items():
        assert_numbers(comparison, "ratio", "target_ratio", "cpu_ratio")
        assert isinstance(comparison["met"], bool)
        assert comparison["instances"] == figures["settings"]["instances"] == 1
        assert len(comparison["ratio_per_round"]) == figures["settings"]["side_by_side_rounds"]
        assert len(comparison["cpu_ratio_per_round"]) == len(comparison["ratio_per_round"])
        for side in ("service", "baseline"):
            assert_numbers(comparison["side_by_side"][side], "rps", "p99_ms",
                           "cpu_us_per_request")
        if key in webdis:  # side by side only
            assert "service" not in comparison and "ratio_one_after_the_other" not in comparison
            continue
        assert_numbers(comparison, "ratio_one_after_the_other")
        assert len(comparison["ratio_one_after_the_other_per_round"]) == rounds
        for side in ("service", "baseline"):
            figures_of_side = comparison[side]
            assert_numbers(figures_of_side, "rps", "p50_ms", "p99_ms", "max_ms",
                           "cpu_us_per_request")
            assert figures_of_side["requests"] > 0
            assert isinstance(figures_of_side["non_2xx"], int)
            assert isinstance(figures_of_side["socket_errors"], int)
            assert len(figures_of_side["rounds"]) == rounds


def test_the_hot_path_table_has_six_rows_with_goals(run: tuple[dict[str, Any], str]) -> None:
    figures, table = run
    (hot_path,) = [t for t in figures["tables"] if t["title"].startswith("hot path")]
    assert [r["met"] for r in hot_path["rows"]] == [
        figures["throughput"][key]["ratio"] >= figures["throughput"][key]["target_ratio"]
        for key in HOT_PATH]
    # In the text: its title, the column headers, then the six rows.
    rows = table.split("hot path, side by side")[1].split("\n\n")[0].splitlines()[2:]
    assert len(rows) == 6 and all(row.endswith(("MET", "NOT MET")) for row in rows)
    goals = {t["name"]: t["limit"] for t in figures["targets"]}
    assert goals["memory-hit GET vs bare aiohttp handler returning fixed bytes"] == 0.95
    assert goals["_mget of 100 Redis hits vs Webdis MGET of 100, keys/s"] == 0.3


def test_outage_has_phases_detection_and_recovery(run: tuple[dict[str, Any], str]) -> None:
    figures, _ = run
    outage = figures["outage"]
    assert isinstance(outage["link"]["env"], dict)
    assert_numbers(outage["link"], "command_timeout_ms", "health_check_interval_ms")
    assert_numbers(outage["memory_only_mix"], "p50_ms", "p99_ms", "rounds")
    for kind in ("kill", "pause"):
        scenario = outage[kind]
        assert_numbers(scenario, "detection_ms", "recovery_ms", "pending_backoff_ms")
        assert len(scenario["rounds"]) == figures["settings"]["outage_rounds"]
        assert set(scenario["phases"]) == {"failure", "outage", "recovery"}
        for phase in scenario["phases"].values():
            assert_numbers(phase, "p50_ms", "p99_ms", "max_ms")
            assert phase["requests"] > 0
            assert isinstance(phase["not_found"], int) and isinstance(phase["bad"], int)


def test_memory_tier_is_compared_with_cachetools(run: tuple[dict[str, Any], str]) -> None:
    memory = run[0]["memory_tier"]
    for operation in ("get_hit", "set"):
        assert_numbers(memory[operation], "memory_tier", "lru_cache", "ttl_cache",
                       "ratio_vs_lru", "ratio_vs_ttl")
    assert_numbers(memory["get_hit"], "lru_cache_get", "ratio_vs_lru_get")


def test_every_target_is_reported(run: tuple[dict[str, Any], str]) -> None:
    targets = run[0]["targets"]
    assert len(targets) == 19
    for found in targets:
        assert isinstance(found["name"], str) and isinstance(found["met"], bool)
        assert found["measured"] is None or is_number(found["measured"])
        assert is_number(found["limit"])


def test_bad_usage_exits_2() -> None:
    done = subprocess.run([str(BENCH), "--rounds", "0"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert "--rounds must be >= 1" in done.stderr


def test_invalidation_latency_is_measured(run: tuple[dict[str, Any], str]) -> None:
    figures = run[0]["invalidation"]
    assert_numbers(figures, "p50_ms", "p99_ms", "max_ms", "get_round_trip_p50_ms")
    assert figures["samples"] == 300
    assert figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert "invalidation: B serves A's new value" in run[1]
