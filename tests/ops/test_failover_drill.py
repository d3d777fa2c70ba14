"""scripts/failover-drill against the real service and a real redis-server.

The drill's stop and start commands act on a daemonized redis-server on a
free port (`redis-cli shutdown nosave`, `redis-server --daemonize yes`), as
an operator's `docker stop` / `docker start` would. Every server the drill
may start writes a pidfile; teardown kills it and checks the port is closed,
so no test leaves a Redis behind.
"""

from __future__ import annotations

import ast
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from scripts.drill.journal import check_sequence, journal_path
from scripts.drill.probe import StepFailed, run_command
from scripts.drill.sentinel import SentinelDrill
from scripts.harness.ports import port_is_open
from scripts.harness.redis_server import RedisServer, ping
from scripts.harness.service_process import ServiceProcess
from scripts.harness.waiting import wait_for
from tests.conftest import FAST_LINK_ENV
from tests.ops.conftest import SCRIPTS, RunScript, run

TOKEN = "drill-token"


class DaemonRedis:
    """A redis-server the drill stops and starts with shell commands: the
    harness's command line, daemonized, with a pidfile."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        harness = RedisServer(data_dir)
        self.port, self.url = harness.port, harness.url
        self.pidfile = data_dir / "redis.pid"
        self.stop_cmd = shlex.join(["redis-cli", "-p", str(self.port), "shutdown", "nosave"])
        self.start_cmd = shlex.join(
            [*harness.command_line(), "--daemonize", "yes", "--pidfile", str(self.pidfile)])

    def start(self) -> DaemonRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(self.start_cmd, shell=True, check=True, timeout=10)
        wait_for(lambda: ping(self.port), what="redis-server to answer PING")
        return self

    def kill(self) -> None:
        """SIGKILL whichever server the pidfile names (the last one started)."""
        if self.pidfile.exists():
            pid = int(self.pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline")
            if cmdline.exists() and b"redis-server" in cmdline.read_bytes():
                os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not port_is_open(self.port), what=f"port {self.port} to close")


@pytest.fixture
def daemon_redis(tmp_path: Path) -> Iterator[DaemonRedis]:
    server = DaemonRedis(tmp_path / "redis").start()
    yield server
    server.kill()


def start_service(log: Path, redis_url: str, **env: str) -> ServiceProcess:
    return ServiceProcess(
        {**FAST_LINK_ENV, "REDIS_LAZY_CONNECT": "false", "REDIS_URL": redis_url, **env}, log
    ).start()


@pytest.fixture
def service(daemon_redis: DaemonRedis, tmp_path: Path) -> Iterator[ServiceProcess]:
    process = start_service(tmp_path / "service.log", daemon_redis.url)
    yield process
    process.kill()


def drill(run_script: RunScript, service: ServiceProcess, redis: DaemonRedis,
          *args: object, token: str = "") -> Any:
    return run_script(
        "failover-drill", "--url", service.base_url, "--stop-cmd", redis.stop_cmd,
        "--start-cmd", redis.start_cmd, "--detect-timeout", 10, "--recover-timeout", 10,
        "--poll-interval", 0.05, *args, env={"CACHE_API_TOKEN": token},
    )


@pytest.fixture(scope="module")
def passing_drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One successful failover drill, shared by the tests that read its output."""
    base = tmp_path_factory.mktemp("drill")
    redis = DaemonRedis(base / "redis").start()
    process = None
    try:
        process = start_service(base / "service.log", redis.url)
        result = run("failover-drill", "--url", process.base_url, "--stop-cmd", redis.stop_cmd,
                     "--start-cmd", redis.start_cmd, "--detect-timeout", 10,
                     "--recover-timeout", 10, "--poll-interval", 0.05,
                     "--json", base / "report.json", env={"CACHE_API_TOKEN": ""})
        report = json.loads((base / "report.json").read_text())
        yield result, report, redis
    finally:
        if process is not None:
            process.kill()
        redis.kill()


def test_drill_passes_against_a_redis_that_stops_and_comes_back(passing_drill: Any) -> None:
    result, report, redis = passing_drill
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(" ", 1)[0] for line in lines if line.startswith("[")] == ["[PASS]"] * 8
    assert "[PASS] 5. service still works" in result.stdout
    assert "X-Cache: hit-memory" in result.stdout
    assert lines[-1] == "PASS: all 8 steps passed"
    assert any(line.startswith("time to detect: ") for line in lines)
    assert any(line.startswith("time to recover: ") for line in lines)
    assert report["passed"] is True and report["exit_code"] == 0
    assert [step["status"] for step in report["steps"]] == ["pass"] * 8
    assert ping(redis.port)  # the drill left Redis running


def test_json_report_has_steps_timings_and_the_journal(passing_drill: Any) -> None:
    _, report, _ = passing_drill
    assert set(report) >= {"drill", "url", "passed", "exit_code", "started_at", "finished_at",
                           "failure", "timings", "steps", "journal", "keys_left_behind"}
    assert report["drill"] == "failover" and report["failure"] is None
    timings = report["timings"]
    for name in ("time_to_detect_s", "time_to_recover_s", "service_outage_s", "total_s"):
        assert isinstance(timings[name], float) and timings[name] >= 0, name
    assert timings["time_to_recover_s"] < 10
    names = [step["name"] for step in report["steps"]]
    assert names == ["service answers", "Redis healthy", "stop Redis", "fallback detected",
                     "service still works", "start Redis", "Redis recovered",
                     "journal sequence"]
    for number, step in enumerate(report["steps"], start=1):
        assert step["number"] == number
        assert isinstance(step["duration_s"], float) and step["detail"]
    journal = report["journal"]
    assert journal["path"][0] == "ready" and journal["path"][1] == "error"
    assert journal["path"][-1] == "ready" and "reconnecting" in journal["path"]
    assert journal["events"][0]["seq"] == journal["since_seq"] + 1
    assert {"ErrorSeen", "Connected"} <= {event["type"] for event in journal["events"]}
    assert report["keys_left_behind"] == []


def test_drill_fails_naming_the_recovery_step_when_redis_never_returns(
    run_script: RunScript, service: ServiceProcess, daemon_redis: DaemonRedis, tmp_path: Path
) -> None:
    started = time.monotonic()
    result = run_script(
        "failover-drill", "--url", service.base_url, "--stop-cmd", daemon_redis.stop_cmd,
        "--start-cmd", "true", "--recover-timeout", 1.5, "--poll-interval", 0.05,
        "--json", tmp_path / "report.json", env={"CACHE_API_TOKEN": ""},
    )
    assert result.returncode == 1, result.stdout
    assert time.monotonic() - started < 10
    assert "FAIL: step 7 (Redis recovered): checks.redis.status still 'unhealthy'" in result.stderr
    assert "after the start command" in result.stderr
    assert "[SKIP] 8. journal sequence" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["passed"] is False and report["exit_code"] == 1
    assert report["failure"]["step"] == 7 and report["failure"]["name"] == "Redis recovered"
    assert report["timings"]["time_to_recover_s"] is None
    assert report["journal"]["path"][:2] == ["ready", "error"]  # kept for the post-mortem


# Runs the script (argv[1:]) with Python's own SIGINT handler: a test runner
# started in the background inherits SIGINT ignored, a terminal user does not.
AS_IF_IN_A_TERMINAL = (
    "import runpy, signal, sys, os; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "sys.argv = sys.argv[1:]; sys.path.insert(0, os.path.dirname(sys.argv[0])); "
    "runpy.run_path(sys.argv[0], run_name='__main__')"
)


def test_ctrl_c_while_redis_is_held_down_still_starts_it_again(
    service: ServiceProcess, daemon_redis: DaemonRedis
) -> None:
    drill_process = subprocess.Popen(
        [sys.executable, "-c", AS_IF_IN_A_TERMINAL, str(SCRIPTS / "failover-drill"),
         "--url", service.base_url,
         "--stop-cmd", daemon_redis.stop_cmd, "--start-cmd", daemon_redis.start_cmd,
         "--hold", "60", "--recover-timeout", "10", "--poll-interval", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert drill_process.stdout is not None
        for line in drill_process.stdout:
            if line.startswith("[PASS] 5."):
                break
        drill_process.send_signal(signal.SIGINT)
        out, err = drill_process.communicate(timeout=20)
    finally:
        drill_process.kill()
    assert drill_process.returncode == 1
    assert "FAIL: step 6 (start Redis): interrupted (Ctrl-C)" in err
    assert "[PASS] 7. Redis recovered" in out
    assert ping(daemon_redis.port)


def test_cache_recovery_mode_passes_and_reports_memory_entries(
    run_script: RunScript, daemon_redis: DaemonRedis, tmp_path: Path
) -> None:
    service = start_service(tmp_path / "service.log", daemon_redis.url, CACHE_API_TOKEN=TOKEN)
    try:
        result = drill(run_script, service, daemon_redis, "--mode", "cache-recovery",
                       "--keys", 5, "--hold", 0.6, "--json", tmp_path / "report.json",
                       token=TOKEN)
    finally:
        service.kill()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "PASS: all 10 steps passed"
    assert "(after holding Redis down 0.6 s)" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["drill"] == "cache-recovery"
    assert report["cache"]["entries_before"] >= 5
    # The memory tier is forgotten at reconnect (invalidations may have been
    # missed): earlier keys come back from Redis if it kept them, else miss.
    earlier = report["cache"]["earlier_keys"]
    assert set(earlier) <= {"hit-redis", "miss"} and sum(earlier.values()) == 5
    reconnects = report["steps"][6]["data"]["reconnects"]
    assert reconnects["after"] > reconnects["before"]
    assert report["keys_left_behind"] == []


@pytest.mark.redis  # a memory-only service process
def test_drill_never_stops_redis_when_the_service_is_not_healthy_first(
    run_script: RunScript, tmp_path: Path
) -> None:
    service = start_service(tmp_path / "service.log", "")  # memory-only
    marker = tmp_path / "stopped"
    try:
        result = run_script(
            "failover-drill", "--url", service.base_url, "--stop-cmd", f"touch {marker}",
            "--start-cmd", f"touch {marker}", "--detect-timeout", 1,
            env={"CACHE_API_TOKEN": ""},
        )
    finally:
        service.kill()
    assert result.returncode == 1
    assert "FAIL: step 2 (Redis healthy)" in result.stderr and "memory-only" in result.stderr
    assert not marker.exists()


def test_help_documents_both_modes_and_exit_codes(run_script: RunScript) -> None:
    path = SCRIPTS / "failover-drill"
    assert os.access(path, os.X_OK)
    assert path.read_text().startswith("#!/usr/bin/env python3\n")
    result = run_script("failover-drill", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: failover-drill")
    for needle in ("cache-recovery mode", "exit codes:", "--stop-cmd", "--recover-timeout"):
        assert needle in result.stdout
    bad = run_script("failover-drill", "--recover-timeout", "-1")
    assert bad.returncode == 2 and "--recover-timeout" in bad.stderr


def test_drill_imports_only_the_standard_library() -> None:
    # It runs with any python3 on an operator's host, and talks to the
    # service over HTTP only: never `import service`. It asks sentinels
    # through scripts/redisops/ (standard library only too).
    for path in (SCRIPTS / "failover-drill", *(SCRIPTS / "drill").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or name.startswith(
                    ("scripts.drill", "scripts.redisops")), (path, name)


@pytest.mark.parametrize("states", [
    ["ready", "error", "reconnecting", "ready"],
    ["ready", "error", "reconnecting", "error", "failed", "reconnecting", "ready"],
])
def test_journal_sequences_that_pass(states: list[str]) -> None:
    assert check_sequence(events(states)) == " -> ".join(states)


@pytest.mark.parametrize(("states", "message"), [
    ([], "start ready -> error"),
    (["reconnecting", "ready"], "start ready -> error"),
    (["ready", "error", "reconnecting"], "never returned to ready"),
    (["ready", "error", "connecting", "ready"], "unexpected states"),
    (["ready", "error", "reconnecting", "ready", "error"], "left ready again"),
])
def test_journal_sequences_that_fail(states: list[str], message: str) -> None:
    with pytest.raises(StepFailed, match=message):
        check_sequence(events(states))


def events(states: list[str]) -> list[dict[str, Any]]:
    """Journal events walking through `states`, with a reflexive one mixed in."""
    out = [{"seq": i, "type": "X", "from": a, "to": b}
           for i, (a, b) in enumerate(pairwise(states), start=1)]
    if out:
        out.insert(1, {"seq": 0, "type": "Disconnected", "from": "error", "to": "error"})
    assert journal_path(out) == states
    return out


def _drill_with_master(address: str) -> SentinelDrill:
    drill = SentinelDrill.__new__(SentinelDrill)
    drill.context = {"old_master": address}
    return drill


def test_a_host_a_sentinel_names_is_one_word_and_never_shell_text(tmp_path: Path) -> None:
    """The kill command runs without a shell: a master address holding shell
    text reaches the command as part of one word, and a sentinel answer that
    is not host:port is refused before anything runs."""
    marker = tmp_path / "pwned"
    argv_file = tmp_path / "argv.json"
    record = shlex.join([sys.executable, "-c",
                         "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))",
                         str(argv_file)])
    hostile = f"db;touch {marker}"
    run_command(record + " -h {master_host} -p {master_port}", 10,
                {"master_host": hostile, "master_port": "6379"})
    assert json.loads(argv_file.read_text()) == ["-h", hostile, "-p", "6379"]
    assert not marker.exists()
    for address in (f"$(touch {marker}):6379", "-oops:6379", "db:63 79", "db`x`:1", "db:"):
        with pytest.raises(StepFailed, match="not a host:port"):
            _drill_with_master(address)._on_old_master()
    assert _drill_with_master("10.0.0.7:6380")._on_old_master() == {
        "master_host": "10.0.0.7", "master_port": "6380"}
    assert not marker.exists()


def test_an_unsplittable_or_missing_command_fails_its_step() -> None:
    with pytest.raises(StepFailed, match="No closing quotation"):
        run_command("echo 'unbalanced", 5)
    with pytest.raises(StepFailed, match="could not run"):
        run_command("/nonexistent/roleready-stop", 5)
