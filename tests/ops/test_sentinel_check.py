"""scripts/check-production's Sentinel items (REDIS_SENTINELS configured):
against a real Sentinel setup (scripts/harness/sentinel.py), and as pure
functions of hand-made facts for what a healthy setup cannot show."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.harness.ports import free_port
from scripts.harness.sentinel import SentinelSetup
from scripts.harness.waiting import wait_for
from scripts.redisops import sentinel_checklist as items
from scripts.redisops.checklist import FAIL, PASS
from tests.ops.conftest import RunScript, StartServer
from tests.ops.test_check_production import lines_by_item

SENTINEL_ITEMS = ["sentinel.reachable", "sentinel.master", "sentinel.quorum",
                  "sentinel.replicas", "sentinel.auth"]


def check(run_script: RunScript, setup: SentinelSetup, tmp_path: Path, **env: str) -> tuple[
        int, dict[str, tuple[str, str]], str]:
    result = run_script("check-production", "--backup-dir", tmp_path,
                        env={**setup.env(), **env})
    return result.returncode, lines_by_item(result.stdout), result.stdout + result.stderr


def replica_seen_in_sync(setup: SentinelSetup) -> bool:
    with setup.sentinels[0].client() as client:
        replicas = client.sentinel_slaves(setup.master_name)
    return bool(replicas) and replicas[0].get("master-link-status") == "ok"


def test_a_healthy_sentinel_setup_passes_the_sentinel_items(
    run_script: RunScript, sentinel_setup: SentinelSetup, tmp_path: Path
) -> None:
    sentinel_setup.wait_until_acquainted()
    wait_for(lambda: replica_seen_in_sync(sentinel_setup), what="the sentinels' view of the replica")
    code, table, output = check(run_script, sentinel_setup, tmp_path)
    master, replica = sentinel_setup.master.port, sentinel_setup.replica.port
    assert [item for item in table if item.startswith("sentinel.")] == SENTINEL_ITEMS
    assert {table[item][0] for item in SENTINEL_ITEMS[:-1]} == {PASS}, output
    # The harness's sentinels have no password: anyone may ask them.
    assert table["sentinel.auth"][0] == FAIL
    assert table["sentinel.auth"][1].startswith("PING answered without a password by 127.0.0.1:")
    assert table["sentinel.reachable"][1] == "3 of 3 listed sentinels answer PING"
    assert table["sentinel.master"][1] == (
        f"cachemaster at 127.0.0.1:{master}, named by 3 of 3 sentinels (quorum 2), flags master")
    assert table["sentinel.quorum"][1].startswith("OK 3 usable Sentinels")
    assert "num-other-sentinels 2" in table["sentinel.quorum"][1]
    assert table["sentinel.replicas"][1] == (
        f"1 in sync (127.0.0.1:{replica}): master-link-status ok")
    # The Redis items run on the master the sentinels name, not REDIS_URL's host.
    assert table["redis.connection"][0] == PASS
    assert table["redis.connection"][1].startswith(f"redis://127.0.0.1:{master} (redis ")
    assert code == 1  # the harness's master has no persistence, password or TLS


def test_a_wrong_master_name_fails(
    run_script: RunScript, sentinel_setup: SentinelSetup, tmp_path: Path
) -> None:
    code, table, output = check(run_script, sentinel_setup, tmp_path,
                                REDIS_SENTINEL_MASTER="no-such-master")
    assert code == 1
    assert table["sentinel.reachable"][0] == PASS
    status, observed = table["sentinel.master"]
    assert status == FAIL and observed.startswith("master 'no-such-master' unknown: sentinel ")
    assert "monitors no master named 'no-such-master'" in observed
    assert table["sentinel.replicas"][0] == FAIL
    assert table["redis.connection"] == (FAIL, "no sentinel named master 'no-such-master'")
    assert "FAIL  sentinel.master" in output


def test_an_unreachable_sentinel_fails(
    run_script: RunScript, sentinel_setup: SentinelSetup, tmp_path: Path
) -> None:
    dead = free_port()
    code, table, _ = check(run_script, sentinel_setup, tmp_path,
                           REDIS_SENTINELS=f"{sentinel_setup.addresses},127.0.0.1:{dead}")
    assert code == 1
    status, observed = table["sentinel.reachable"]
    assert status == FAIL
    assert observed.startswith("3 of 4 listed sentinels answer PING; ")
    assert f"cannot connect to redis://127.0.0.1:{dead}" in observed
    assert table["sentinel.master"][0] == PASS  # the three that answer agree


def test_sentinel_settings_are_checked_before_anything_runs(
    run_script: RunScript, tmp_path: Path
) -> None:
    for env, message in [({"REDIS_SENTINELS": "127.0.0.1:1"}, "REDIS_SENTINEL_MASTER is required"),
                         ({"REDIS_SENTINELS": "nowhere", "REDIS_SENTINEL_MASTER": "m"},
                          "REDIS_SENTINELS: expected host:port")]:
        result = run_script("check-production", "--backup-dir", tmp_path, env=env)
        assert result.returncode == 2 and message in result.stderr, result.stderr


def facts(**changes: object) -> items.SentinelFacts:
    replica = {"name": "10.0.0.2:6379", "ip": "10.0.0.2", "port": "6379", "flags": "slave",
               "master-link-status": "ok"}
    base = items.SentinelFacts(
        "m", ["s1:26379", "s2:26379", "s3:26379"],
        named={"s1:26379": "10.0.0.1:6379", "s2:26379": "10.0.0.1:6379",
               "s3:26379": "10.0.0.1:6379"},
        master={"flags": "master", "quorum": "2", "num-other-sentinels": "2"},
        ckquorum="OK 3 usable Sentinels.", ckquorum_ok=True, replicas=[replica])
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_healthy_facts_pass_every_item() -> None:
    assert [r.status for r in items.results(facts())] == [PASS] * 5


@pytest.mark.parametrize(("changes", "item", "needle"), [
    ({"named": {"s1:26379": "10.0.0.1:6379", "s2:26379": "10.0.0.9:6379"}},
     "sentinel.master", "named by 1 of 3 sentinels (quorum 2)"),
    ({"master": {"flags": "master,s_down", "quorum": "2"}}, "sentinel.master",
     "flags master,s_down"),
    ({"ckquorum": "NOQUORUM 1 usable Sentinels.", "ckquorum_ok": False}, "sentinel.quorum",
     "NOQUORUM"),
    ({"replicas": []}, "sentinel.replicas", "no replica: nothing to promote"),
    ({"replicas": [{"ip": "10.0.0.2", "port": "6379", "flags": "slave",
                    "master-link-status": "err"}]},
     "sentinel.replicas", "10.0.0.2:6379 master-link-status err"),
    ({"replicas": [{"ip": "10.0.0.2", "port": "6379", "flags": "slave,s_down",
                    "master-link-status": "ok"}]},
     "sentinel.replicas", "flags slave,s_down"),
    ({"open_to_all": ["s2:26379"]}, "sentinel.auth", "without a password by s2:26379"),
])
def test_each_flaw_fails_its_item(changes: dict[str, object], item: str, needle: str) -> None:
    by_item = {r.item: r for r in items.results(facts(**changes))}
    assert by_item[item].status == FAIL and needle in by_item[item].observed, by_item[item]


def test_a_sentinel_with_a_password_passes_the_auth_item(
    run_script: RunScript, redis_factory: StartServer, tmp_path: Path
) -> None:
    master = redis_factory()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"sentinel monitor roleready 127.0.0.1 {master.port} 1\n")
    sentinel = redis_factory("--sentinel", conf=conf, password="sentinel-pw-not-printed")
    result = run_script("check-production", "--backup-dir", tmp_path, env={
        "REDIS_SENTINELS": f"127.0.0.1:{sentinel.port}", "REDIS_SENTINEL_MASTER": "roleready",
        "REDIS_SENTINEL_PASSWORD": "sentinel-pw-not-printed",
        "REDIS_URL": "redis://127.0.0.1:1"})
    table = lines_by_item(result.stdout)
    assert table["sentinel.auth"] == ("PASS", "1 of 1 refuse PING without a password")
    assert table["sentinel.reachable"][0] == PASS  # it was asked, with the password
    assert "sentinel-pw-not-printed" not in result.stdout + result.stderr
