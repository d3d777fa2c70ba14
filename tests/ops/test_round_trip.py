"""Backups that really restore: fill a real server, back up, restore, compare.

Every key, type, value and TTL must come back, through the RDB (copied
from the server's dir, and fetched with redis-cli --rdb), through the AOF
directory, and through an RDB restored into a server that runs with
appendonly yes (which needs --rebuild-aof: Redis 7 would ignore the RDB).
"""

from __future__ import annotations

import tarfile
import time
from pathlib import Path

import pytest
import redis

from scripts.harness.waiting import wait_for
from tests.ops.conftest import REDIS_CONF, RunScript, StartServer
from tests.ops.dataset import assert_same, fill, snapshot

# PTTL is read at different moments in the two snapshots; rounding slack on top.
TTL_SLACK_MS = 50


def only(directory: Path, pattern: str) -> Path:
    [match] = directory.glob(pattern)
    return match


def elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000) + TTL_SLACK_MS


def aof_rewrite_idle(client: redis.Redis) -> bool:
    info = client.info("persistence")
    return not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]


@pytest.mark.parametrize("fetch", [False, True], ids=["copied-from-dir", "fetched-rdb"])
def test_rdb_backup_restores_every_key_value_and_ttl(
    fetch: bool, redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    source = redis_factory()
    with source.client() as client:
        written = fill(client)
        started = time.monotonic()
        before = snapshot(client)
    assert sum(ttl > 0 for _, _, ttl in before.values()) == written // 3  # TTLs really tested
    backups = tmp_path / "backups"
    flags = ["--fetch-rdb"] if fetch else []
    backup = run_script("backup-redis", "--port", source.port, "--backup-dir", backups, *flags)
    assert backup.returncode == 0, backup.stderr
    origin = "fetched with redis-cli --rdb" if fetch else f"copied from {source.data_dir}/dump.rdb"
    assert origin in backup.stdout

    restored = tmp_path / "restored"
    restore = run_script("restore-redis", only(backups, "dump_*.rdb.gz"), "--data-dir", restored)
    assert restore.returncode == 0, restore.stderr
    assert f"redis-check-rdb: OK ({written} keys)" in restore.stdout

    with redis_factory(data_dir=restored).client() as client:
        after = snapshot(client)
    assert len(after) == written
    assert_same(before, after, elapsed_ms(started))


def test_aof_backup_restores_base_and_incr_files(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    source = redis_factory(conf=REDIS_CONF)
    with source.client() as client:
        fill(client, per_type=300, prefix="base")
        client.bgrewriteaof()  # these keys move into the base file
        wait_for(lambda: aof_rewrite_idle(client), what="BGREWRITEAOF")
        fill(client, per_type=300, prefix="incr", seed=7)  # these go to the incr file
        client.delete("base:1:hash", "base:2:list")
        client.set("base:0:str", b"overwritten after the rewrite")
        started = time.monotonic()
        before = snapshot(client)
    backups = tmp_path / "backups"
    backup = run_script("backup-redis", "--port", source.port, "--backup-dir", backups)
    assert backup.returncode == 0, backup.stderr
    archive = only(backups, "appendonly_*.tar.gz")
    with tarfile.open(archive) as tar:
        sizes = {Path(m.name).name: m.size for m in tar.getmembers()}
    assert sizes["appendonly.aof.manifest"] > 0
    assert any(name.endswith(".base.rdb") and size > 0 for name, size in sizes.items())
    assert any(name.endswith(".incr.aof") and size > 0 for name, size in sizes.items())
    with source.client() as client:  # the pause of automatic rewrites was undone
        assert client.config_get("auto-aof-rewrite-percentage")["auto-aof-rewrite-percentage"] == "100"

    restored = tmp_path / "restored"
    restore = run_script("restore-redis", archive, "--data-dir", restored)
    assert restore.returncode == 0, restore.stderr
    assert "redis-check-aof: all AOF files and manifest are valid" in restore.stdout
    assert not (restored / "dump.rdb").exists()  # so the data can only come from the AOF

    with redis_factory(data_dir=restored, conf=REDIS_CONF).client() as client:
        after = snapshot(client)
    assert len(after) == 2 * 300 * 5 - 2
    assert after[b"base:0:str"][1] == b"overwritten after the rewrite"
    assert_same(before, after, elapsed_ms(started))


def test_rdb_into_an_appendonly_server_needs_rebuild_aof(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    source = redis_factory(conf=REDIS_CONF)
    with source.client() as client:
        written = fill(client, per_type=200)
        started = time.monotonic()
        before = snapshot(client)
    backups = tmp_path / "backups"
    assert run_script("backup-redis", "--port", source.port, "--backup-dir", backups,
                      "--skip-aof").returncode == 0
    dump = only(backups, "dump_*.rdb.gz")
    data = tmp_path / "data"
    assert run_script("restore-redis", dump, "--data-dir", data).returncode == 0

    # The pitfall: with appendonly yes, the restored dump.rdb is ignored.
    naive = redis_factory(data_dir=data, conf=REDIS_CONF)
    with naive.client() as client:
        assert client.dbsize() == 0
    naive.kill()

    fixed = run_script("restore-redis", dump, "--data-dir", data, "--rebuild-aof", "--force")
    assert fixed.returncode == 0, fixed.stderr
    assert f"rebuilt appendonlydir/ from dump.rdb ({written} keys)" in fixed.stdout
    assert list(data.glob("appendonlydir.before-restore-*"))  # the empty AOF, set aside
    with redis_factory(data_dir=data, conf=REDIS_CONF).client() as client:
        after = snapshot(client)
    assert_same(before, after, elapsed_ms(started))
