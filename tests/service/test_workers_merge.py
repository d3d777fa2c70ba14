"""The pure parts of WORKERS > 1: merging expositions and health documents,
slots, and the WORKERS value (no server, no Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from service.config import ConfigError, Settings
from service.config.values import usable_cpus
from service.http.instance.exposition import merge, parse, render
from service.http.instance.instance_health import instance_report
from service.workers.gunicorn_app import assign_slot, sweep_stale

EXPOSITION = """\
# HELP roleready_cache_sets_total PUTs stored.
# TYPE roleready_cache_sets_total counter
roleready_cache_sets_total {sets}
# HELP roleready_memory_cache_entries Entries in the memory tier.
# TYPE roleready_memory_cache_entries gauge
roleready_memory_cache_entries {entries}
# HELP d Request durations.
# TYPE d histogram
d_bucket{{route="/x",le="0.1"}} {fast}
d_bucket{{route="/x",le="+Inf"}} {all}
d_count{{route="/x"}} {all}
d_sum{{route="/x"}} 0.5
"""


def _worker(sets: int, entries: int, fast: int, all: int) -> bytes:
    return EXPOSITION.format(sets=sets, entries=entries, fast=fast, all=all).encode()


def test_every_family_is_kept_per_worker_so_a_restart_resets_only_its_own_series() -> None:
    merged = render(merge({0: parse(_worker(3, 10, 1, 2)), 1: parse(_worker(4, 20, 5, 7))}))
    lines = set(merged.decode().splitlines())
    assert 'roleready_cache_sets_total{worker="0"} 3.0' in lines
    assert 'roleready_cache_sets_total{worker="1"} 4.0' in lines
    assert 'roleready_memory_cache_entries{worker="0"} 10.0' in lines
    assert 'roleready_memory_cache_entries{worker="1"} 20.0' in lines
    assert 'd_bucket{le="0.1",route="/x",worker="1"} 5.0' in lines
    assert 'd_bucket{le="+Inf",route="/x",worker="0"} 2.0' in lines
    assert 'd_count{route="/x",worker="1"} 7.0' in lines
    assert 'd_sum{route="/x",worker="0"} 0.5' in lines
    assert "# TYPE roleready_cache_sets_total counter" in lines
    # Worker 1 restarted: its series start again, worker 0's go on.
    after = render(merge({0: parse(_worker(5, 10, 1, 4)), 1: parse(_worker(1, 0, 1, 1))}))
    later = set(after.decode().splitlines())
    assert 'roleready_cache_sets_total{worker="0"} 5.0' in later
    assert 'roleready_cache_sets_total{worker="1"} 1.0' in later


def _document(entries: int, hits: int, misses: int) -> dict[str, Any]:
    return {
        "status": "healthy",
        "checks": {
            "redis": {"status": "healthy", "responseTime": "1ms", "memoryUsed": "1M",
                      "connectionStatus": "ready", "reconnectAttempts": 0, "lastError": None,
                      "lastErrorTime": None, "enabled": True},
            "cache": {"memory": {"entries": entries, "capacity": 1000, "utilizationPercent": "x"},
                      "redis": {"enabled": True, "status": "ready", "hits": hits,
                                "misses": misses, "hitRate": "x"}},
        },
    }


def _entry(slot: int, state: str) -> dict[str, Any]:
    return {"worker": slot, "pid": 100 + slot, "status": "healthy" if state == "ready" else
            "degraded", "connectionStatus": state, "reconnectAttempts": 3,
            "lastError": "ConnectionError: refused", "lastErrorTime": "2026-12-02T00:00:00Z",
            "draining": False}


def test_health_sums_the_cache_and_the_worst_link_wins() -> None:
    own = _document(10, 3, 1)
    sibling = {"worker": _entry(1, "reconnecting"), "report": _document(30, 5, 1)}
    report = instance_report(own, _entry(0, "ready"), {1: sibling})
    assert report["status"] == "degraded"
    redis = report["checks"]["redis"]
    assert (redis["status"], redis["connectionStatus"], redis["reconnectAttempts"]) == (
        "unhealthy", "reconnecting", 3)
    assert redis["responseTime"] == "1ms"  # the answering worker's probe
    memory, hits = report["checks"]["cache"]["memory"], report["checks"]["cache"]["redis"]
    assert (memory["entries"], memory["capacity"], memory["utilizationPercent"]) == (
        40, 2000, "2.00")
    assert (hits["hits"], hits["misses"], hits["hitRate"]) == (8, 2, "80.00%")
    assert [w["worker"] for w in report["workers"]] == [0, 1]
    assert own["checks"]["cache"]["memory"]["entries"] == 10  # the input is left alone


def test_health_with_every_worker_ready_is_healthy_and_a_silent_one_is_not() -> None:
    sibling = {"worker": _entry(1, "ready"), "report": _document(1, 0, 0)}
    assert instance_report(_document(1, 0, 0), _entry(0, "ready"), {1: sibling})[
        "status"] == "healthy"
    report = instance_report(_document(1, 0, 0), _entry(0, "ready"), {1: None})
    assert report["status"] == "degraded"
    assert report["workers"][1] == {"worker": 1, "status": "unreachable"}
    assert report["checks"]["redis"]["connectionStatus"] == "ready"  # no link to take


def test_a_restarted_worker_takes_the_lowest_free_slot() -> None:
    arbiter = SimpleNamespace(WORKERS={})
    workers = [SimpleNamespace() for _ in range(3)]
    for pid, worker in enumerate(workers):
        assign_slot(arbiter, worker)  # type: ignore[arg-type]
        arbiter.WORKERS[pid] = worker
    assert [worker.slot for worker in workers] == [0, 1, 2]
    del arbiter.WORKERS[1]  # slot 1 died
    replacement = SimpleNamespace()
    assign_slot(arbiter, replacement)  # type: ignore[arg-type]
    assert replacement.slot == 1


def test_workers_is_a_number_or_auto() -> None:
    assert Settings.from_env({}).workers == 1
    assert Settings.from_env({"WORKERS": "3"}).workers == 3
    assert Settings.from_env({"WORKERS": "auto"}).workers == usable_cpus()
    for bad in ("0", "-1", "two"):
        with pytest.raises(ConfigError, match="WORKERS"):
            Settings.from_env({"WORKERS": bad})
    assert Settings.from_env({}).event_loop == "uvloop"
    with pytest.raises(ConfigError, match="EVENT_LOOP"):
        Settings.from_env({"EVENT_LOOP": "trio"})


def test_usable_cpus_follows_a_cgroup_quota(tmp_path: Path) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("max 100000\n")
    unlimited = usable_cpus(cpu_max)
    cpu_max.write_text("150000 100000\n")  # 1.5 CPUs: two workers can use them
    assert usable_cpus(cpu_max) == min(2, unlimited)
    cpu_max.write_text("50000 100000\n")
    assert usable_cpus(cpu_max) == 1
    assert usable_cpus(tmp_path / "absent") == unlimited


def test_directories_of_arbiters_that_are_gone_are_swept(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = tmp_path / f"roleready-cache-{gone.pid}-abc"
    living = tmp_path / f"roleready-cache-{os.getpid()}-def"
    other = tmp_path / "roleready-cache-notapid-x"
    for directory in (stale, living, other):
        directory.mkdir()
    sweep_stale(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([living.name, other.name])
