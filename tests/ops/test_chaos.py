"""scripts/chaos as an operator runs it: a soak of two instances through
Redis kills and pauses keeps the promise (docs/consistency.md, the
guarantee), so do Sentinel failovers and an instance killed in a Redis
outage, a short fault-free run passes, and an interrupted run leaves no
process behind.

The runs go two at a time (each its own processes on free ports, its own
directory), from the module's start, longest first; each test waits for
its own and asserts on what it saw. The file's share of the suite is then
about its two longest runs, not the sum of five. Two, not all: a run is an
open-loop load, and a starved instance answers late or drops its link,
which the thresholds below would read as a weaker run. A run keeps its
number of operations and of faults when it is shorter than an operator's:
the rate is raised instead.

Before invalidation and the outage outbox, the same soak found ~730-760
stale reads per 20 s (seeds 1-3); with them, none (seeds 1-4).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from scripts.harness.waiting import wait_for
from tests.support.proc import children

ROOT = Path(__file__).resolve().parents[2]
CHAOS = ROOT / "scripts" / "chaos"
RUN_TIMEOUT_S = 25
LANES = 2
# Each run's arguments (without --json), longest first: the order they start in.
RUNS = {
    "sentinel": ["--sentinel", "--duration", "12", "--keys", "300", "--rate", "300"],
    # 4 faults, as 20 s of seed 1 had, and 4800 operations (20 s at 200 ops/s
    # had 4000; at 250, 4000 left the 1000-hit floor met by 994 on a loaded machine).
    "soak": ["--duration", "16", "--rate", "300", "--seed", "3"],
    # Its one restart (the plan depends on the duration and seed only) in 6 s,
    # not 8; 400 ops/s for the reads held to the promise after it (at 200 and
    # 8 s, a loaded machine's slow start of the instance left 84 for the 100).
    "restarts": ["--duration", "6", "--rate", "400", "--restarts", "--instances", "1",
                 "--seed", "2"],
    # The 600 operations of 3 s at 200 ops/s (the plan depends on the count only).
    "fault_free": ["--duration", "1.5", "--rate", "400", "--no-faults", "--instances", "1"],
}
READERS = {
    "test_sentinel_failovers_undo_no_acknowledged_change": "sentinel",
    "test_a_chaos_soak_of_two_instances_keeps_the_promise": "soak",
    "test_an_instance_killed_in_a_redis_outage_loses_no_acknowledged_change": "restarts",
    "test_a_short_fault_free_run_on_one_instance_passes": "fault_free",
    "test_sigterm_stops_the_run_and_everything_it_started": "sigterm",
}

pytestmark = pytest.mark.redis


@dataclass
class Finished:
    """What one run left: exit code, stdout (and stderr's tail), --json document."""

    returncode: int
    report: str
    run: dict[str, Any]


@dataclass
class Runs:
    """The runs of the selected tests, LANES at a time; stopped at the end."""

    futures: dict[str, Future[Any]] = field(default_factory=dict)
    live: list[subprocess.Popen[str]] = field(default_factory=list)
    stopping: bool = False

    def popen(self, *args: str) -> subprocess.Popen[str]:
        if self.stopping:
            raise RuntimeError("the module is over")
        process = subprocess.Popen([str(CHAOS), *args], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        self.live.append(process)
        return process

    def result(self, name: str, timeout: float) -> Any:
        return self.futures[name].result(timeout=timeout)

    def stop(self) -> None:
        """Each run still going is interrupted (it stops what it started)."""
        self.stopping = True
        for process in self.live:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.live:
            try:
                process.wait(timeout=RUN_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _chaos(runs: Runs, name: str, out: Path) -> Finished:
    process = runs.popen(*RUNS[name], "--json", str(out))
    stdout, stderr = process.communicate(timeout=150)
    report = stdout + stderr[-3000:]
    assert out.exists(), report
    return Finished(process.returncode, report, json.loads(out.read_text()))


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Every run the module's selected tests read, started in RUNS's order."""
    selected = {READERS[item.name] for item in request.session.items
                if item.module is request.module and item.name in READERS}
    started = Runs()
    pool = ThreadPoolExecutor(LANES, thread_name_prefix="chaos")
    scenarios: dict[str, Callable[[], Any]] = {
        name: (lambda name=name: _chaos(started, name,
                                        tmp_path_factory.mktemp(f"chaos-{name}") / "run.json"))
        for name in RUNS
    }
    scenarios["sigterm"] = lambda: _interrupted(started)
    try:
        for name in (*RUNS, "sigterm"):
            if name in selected:
                started.futures[name] = pool.submit(scenarios[name])
        yield started
    finally:
        started.stop()
        pool.shutdown(cancel_futures=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


@dataclass
class Interrupted:
    returncode: int
    stderr: str
    left_alive: list[int]


def _interrupted(runs: Runs) -> Interrupted:
    """A run SIGTERMed once Redis and both services are up (a 60 s run)."""
    chaos = runs.popen("--duration", "60")
    try:
        # The shell script execs python: these are redis-server and both services.
        wait_for(lambda: len(children(chaos.pid)) == 3, RUN_TIMEOUT_S, "redis and 2 services")
        started = children(chaos.pid)
        chaos.send_signal(signal.SIGTERM)
        _, stderr = chaos.communicate(timeout=RUN_TIMEOUT_S)
    finally:
        chaos.kill()
    return Interrupted(chaos.returncode, stderr, [pid for pid in started if _alive(pid)])


@pytest.mark.slow
def test_sentinel_failovers_undo_no_acknowledged_change(runs: Runs) -> None:
    """scripts/chaos --sentinel: SENTINEL FAILOVER, then the new master killed
    while the demoted master still claims the role (the replication window),
    then the master killed again, under load through two instances. With
    the service's held writes off (REDIS_REPLICA_CONFIRM=off, as before
    them) the same run read back 29 replaced values (seed 1, 300 keys, 200
    ops/s)."""
    done: Finished = runs.result("sentinel", 150)
    kinds = [fault["kind"] for fault in done.run["faults"]]
    assert kinds[:2] == ["failover", "window"], kinds
    assert done.run["sentinel"]["killed_inside_window"] == [True]
    assert done.run["held_to_promise"]["get_hits"] > 100
    assert done.run["sentinel"]["undone"] == 0
    assert done.returncode == 0, done.report


@pytest.mark.slow
def test_a_chaos_soak_of_two_instances_keeps_the_promise(runs: Runs) -> None:
    done: Finished = runs.result("soak", 150)
    assert len(done.run["faults"]) >= 4
    assert {f["kind"] for f in done.run["faults"]} == {"kill", "pause"}
    assert done.run["held_to_promise"]["get_hits"] > 1000
    assert done.returncode == 0, done.report


@pytest.mark.slow
def test_an_instance_killed_in_a_redis_outage_loses_no_acknowledged_change(
    runs: Runs,
) -> None:
    """`--restarts`: in a Redis outage the instance is SIGKILLed (seed 2
    draws SIGKILL first; SIGTERM is tests/integration/test_outbox_restart.py's)
    and started again with its state directory before Redis returns. One
    instance, so that its outage writes are still each key's latest change
    when it is ready again: without CACHE_STATE_DIR this run found 2-5 stale
    reads (seeds 1-2), with it none."""
    done: Finished = runs.result("restarts", 150)
    assert [f["kind"] for f in done.run["faults"]] == ["sigkill a"]
    # Requests refused while it was down are excused, and there were some.
    assert any(op["status"] is None for op in done.run["ops"])
    assert done.run["held_to_promise"]["get_hits"] > 100
    assert done.returncode == 0, done.report


@pytest.mark.slow
def test_a_short_fault_free_run_on_one_instance_passes(runs: Runs) -> None:
    done: Finished = runs.result("fault_free", 150)
    assert done.returncode == 0, done.report
    assert done.report.rstrip().endswith("PASS")
    run = done.run
    assert run["passed"] is True and run["violations"] == [] and run["faults"] == []
    assert len(run["ops"]) == 600
    assert {op["op"] for op in run["ops"]} == {"GET", "PUT", "DELETE", "INVALIDATE"}
    # The promise was really held to something: hits inside a settled window.
    assert run["held_to_promise"]["get_hits"] > 0


@pytest.mark.slow
def test_sigterm_stops_the_run_and_everything_it_started(runs: Runs) -> None:
    done: Interrupted = runs.result("sigterm", 150)
    assert done.returncode == 130, done.stderr
    assert "interrupted" in done.stderr
    assert not done.left_alive
