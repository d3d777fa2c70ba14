"""scripts/failover-drill --mode sentinel against the real service process and
a real Sentinel setup (scripts/harness/sentinel.py: master, replica, three
sentinels, quorum 2, down-after-milliseconds 1000).

One test kills the master with an operator's command, one has a sentinel
promote the replica (SENTINEL FAILOVER); each prints the drill's figures.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scripts.harness.sentinel import SentinelSetup
from scripts.harness.service_process import ServiceProcess
from scripts.redisops.sentinel import parse_host_ports, records
from tests.conftest import FAST_LINK_ENV
from tests.ops.conftest import RunScript

STEPS = ["service answers", "Redis healthy", "service on the sentinels' master",
         "kill the master", "switch detected", "service still works",
         "ready on the new master", "write on the new master", "journal sequence"]


def start_service(start: Callable[..., ServiceProcess], setup: SentinelSetup) -> ServiceProcess:
    return start(**FAST_LINK_ENV, REDIS_LAZY_CONNECT="false", **setup.env())


def sentinel_drill(run_script: RunScript, service: ServiceProcess, setup: SentinelSetup,
                   report: Path, *args: object) -> tuple[Any, dict[str, Any]]:
    result = run_script(
        "failover-drill", "--mode", "sentinel", "--url", service.base_url,
        "--sentinel", setup.addresses, "--master-name", setup.master_name,
        "--detect-timeout", 10, "--recover-timeout", 15, "--poll-interval", 0.05,
        "--json", report, *args, env={"CACHE_API_TOKEN": ""})
    return result, json.loads(report.read_text())


def role(server: Any) -> str:
    with server.client() as client:
        return str(client.info("replication")["role"])


def test_killing_the_master_is_followed_to_the_promoted_replica(
    run_script: RunScript, service_process: Callable[..., ServiceProcess],
    sentinel_setup: SentinelSetup, tmp_path: Path,
) -> None:
    service = start_service(service_process, sentinel_setup)
    master, replica = sentinel_setup.master, sentinel_setup.replica
    kill = "redis-cli -h {master_host} -p {master_port} shutdown nosave"
    result, report = sentinel_drill(run_script, service, sentinel_setup,
                                    tmp_path / "report.json", "--stop-cmd", kill)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [step["name"] for step in report["steps"]] == STEPS
    assert [step["status"] for step in report["steps"]] == ["pass"] * len(STEPS)
    assert f"redis-cli -h 127.0.0.1 -p {master.port} shutdown nosave` exit 0" in result.stdout
    assert f"ready on 127.0.0.1:{replica.port}" in result.stdout
    assert not master.running and role(replica) == "master"
    timings = report["timings"]
    # The bound for the test; its target (down-after + 2 s) is measured, not asserted.
    assert 0 <= timings["time_to_detect_s"] <= timings["time_to_new_master_s"] < 15
    lines = result.stdout.splitlines()
    assert f"time to the new master: {timings['time_to_new_master_s']:.2f} s" in lines
    assert lines[-1] == f"PASS: all {len(STEPS)} steps passed"
    assert report["journal"]["path"][:2] == ["ready", "error"]
    assert report["keys_left_behind"] == []


def test_a_sentinel_failover_and_a_wrong_master_name(
    run_script: RunScript, service_process: Callable[..., ServiceProcess],
    sentinel_setup: SentinelSetup, tmp_path: Path,
) -> None:
    service = start_service(service_process, sentinel_setup)
    wrong = run_script("failover-drill", "--mode", "sentinel", "--url", service.base_url,
                       "--sentinel", sentinel_setup.addresses, "--master-name", "no-such",
                       "--detect-timeout", 1, env={"CACHE_API_TOKEN": ""})
    assert wrong.returncode == 1
    assert "FAIL: step 3 (service on the sentinels' master)" in wrong.stderr
    assert "monitors no master named 'no-such'" in wrong.stderr
    assert role(sentinel_setup.master) == "master"  # nothing was touched

    result, report = sentinel_drill(run_script, service, sentinel_setup,
                                    tmp_path / "report.json")
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (f"SENTINEL FAILOVER {sentinel_setup.master_name} sent to "
            f"127.0.0.1:{sentinel_setup.sentinels[0].port}: OK") in result.stdout
    assert role(sentinel_setup.replica) == "master"
    # The demoted master is still there: the link was dropped because of the switch.
    assert "master switched" in report["steps"][4]["detail"] or (
        "MasterSwitched" in report["steps"][4]["detail"])
    assert report["settings"]["master_name"] == sentinel_setup.master_name


@pytest.mark.parametrize("argv", [["--mode", "sentinel"],
                                  ["--mode", "sentinel", "--sentinel", "h:1"],
                                  ["--mode", "sentinel", "--sentinel", "nope",
                                   "--master-name", "m"]])
def test_sentinel_mode_needs_sentinels_and_a_master_name(
    run_script: RunScript, argv: list[str]
) -> None:
    result = run_script("failover-drill", *argv)
    assert result.returncode == 2, result.stderr
    assert "--sentinel" in result.stderr


def test_sentinel_replies_are_regrouped_per_record() -> None:
    flat = "name\n10.0.0.2:6379\nip\n10.0.0.2\nflags\nslave\nname\n10.0.0.3:6379\nip\n10.0.0.3"
    assert records(flat) == [{"name": "10.0.0.2:6379", "ip": "10.0.0.2", "flags": "slave"},
                             {"name": "10.0.0.3:6379", "ip": "10.0.0.3"}]
    assert records("") == []
    assert parse_host_ports("a:1, b:26379,[::1]:2") == [("a", 1), ("b", 26379), ("::1", 2)]
    for bad in ("a", "a:", ":1", "a:0", "a:x", "a:1,"):
        with pytest.raises(ValueError, match="host:port"):
            parse_host_ports(bad)
