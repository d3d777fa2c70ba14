"""scripts/backup-redis against real servers: success, failure, timeout, retention, secrets."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import stat
import time
from pathlib import Path

import pytest

from scripts.harness.ports import free_port
from scripts.redisops.aof import rewrites_paused
from scripts.redisops.rediscli import Endpoint, RedisCli
from tests.ops.conftest import REDIS_CONF, RunScript, StartServer

DAY_S = 86400


def age(path: Path, days: float) -> Path:
    """Give `path` an mtime `days` in the past."""
    when = time.time() - days * DAY_S
    os.utime(path, (when, when))
    return path


def test_backup_writes_a_timestamped_gzipped_rdb(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    server = redis_factory()
    with server.client() as client:
        client.set("greeting", "hello")
    result = run_script("backup-redis", "--port", server.port, "--backup-dir", tmp_path / "b")
    assert result.returncode == 0, result.stderr
    [dump] = (tmp_path / "b").iterdir()  # no AOF archive: appendonly is no here
    assert re.fullmatch(r"dump_\d{8}_\d{6}\.rdb\.gz", dump.name)
    assert f"wrote {dump} (" in result.stdout
    with gzip.open(dump) as rdb:
        assert rdb.read(5) == b"REDIS"


def test_failed_bgsave_exits_1_with_a_clear_message_and_deletes_nothing(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    doomed = tmp_path / "doomed"
    doomed.mkdir()
    server = redis_factory("--dir", str(doomed))
    # Redis chdir()ed into `dir`; once it is gone no snapshot file can be
    # created there (chmod would not do: the tests run as root).
    doomed.rmdir()
    with server.client() as client:
        client.set("k", "v")
    backups = tmp_path / "backups"
    backups.mkdir()
    old = backups / "dump_20000101_000000.rdb.gz"
    old.write_bytes(b"an old backup")
    age(old, 100)
    result = run_script("backup-redis", "--port", server.port, "--backup-dir", backups,
                        "--retention-days", "30")
    assert result.returncode == 1
    assert "BGSAVE failed (rdb_last_bgsave_status:err)" in result.stderr
    assert [p.name for p in backups.iterdir()] == [old.name]  # not pruned, no partial file


def test_bgsave_slower_than_the_time_limit_exits_4(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    # rdb-key-save-delay (microseconds per key) makes the snapshot take ~20 s.
    server = redis_factory("--rdb-key-save-delay", "1000000")
    with server.client() as client:
        client.mset({f"k{i}": i for i in range(20)})
    result = run_script("backup-redis", "--port", server.port, "--backup-dir", tmp_path / "b",
                        "--timeout", "1")
    assert result.returncode == 4
    assert "BGSAVE did not finish before the time limit" in result.stderr
    assert not list((tmp_path / "b").iterdir())


def test_retention_deletes_only_backups_older_than_the_limit(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    server = redis_factory()
    backups = tmp_path / "backups"
    backups.mkdir()
    names = ["dump_20000101_000000.rdb.gz", "appendonly_20000101_000000.tar.gz",
             "dump_20000201_000000.rdb.gz", "notes.txt"]
    old_dump, old_aof, recent, unrelated = (backups / name for name in names)
    for path, days in ((old_dump, 40), (old_aof, 40), (recent, 10), (unrelated, 400)):
        path.write_bytes(b"x")
        age(path, days)
    result = run_script("backup-redis", "--port", server.port, "--backup-dir", backups,
                        "--retention-days", "30")
    assert result.returncode == 0, result.stderr
    assert f"deleted {old_dump} (older than 30 days)" in result.stdout
    assert f"deleted {old_aof} (older than 30 days)" in result.stdout
    assert recent.exists() and unrelated.exists()
    assert not old_dump.exists() and not old_aof.exists()


def test_unreachable_server_exits_3(run_script: RunScript, tmp_path: Path) -> None:
    port = free_port()
    result = run_script("backup-redis", "--port", port, "--backup-dir", tmp_path / "b")
    assert result.returncode == 3
    assert f"cannot connect to redis://127.0.0.1:{port}" in result.stderr


def test_password_only_from_rediscli_auth_never_in_argv_or_output(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    secret = "s3cret-backup-password"
    server = redis_factory(conf=REDIS_CONF, password=secret)
    shim, calls = _recording_redis_cli(tmp_path)
    args = ["backup-redis", "--port", server.port, "--backup-dir", tmp_path / "b"]

    denied = run_script(*args, path_prefix=shim)
    assert denied.returncode == 3
    assert "refused authentication" in denied.stderr and "REDISCLI_AUTH" in denied.stderr

    done = run_script(*args, env={"REDISCLI_AUTH": secret}, path_prefix=shim)
    assert done.returncode == 0, done.stderr
    assert "appendonly_" in done.stdout  # the AOF path ran authenticated too
    assert "CONFIG SET auto-aof-rewrite-percentage 0" in calls.read_text()
    assert secret not in calls.read_text()
    assert secret not in done.stdout + done.stderr + denied.stdout + denied.stderr


def _recording_redis_cli(tmp_path: Path) -> tuple[Path, Path]:
    """A redis-cli first on PATH that logs its arguments, then runs the real one."""
    real = shutil.which("redis-cli")
    assert real is not None
    shim, calls = tmp_path / "shim", tmp_path / "redis-cli-calls.log"
    shim.mkdir()
    wrapper = shim / "redis-cli"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$*" >> "{calls}"\nexec "{real}" "$@"\n')
    wrapper.chmod(0o755)
    return shim, calls


def test_unreadable_aof_dir_fails_clearly(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    server = redis_factory(conf=REDIS_CONF)
    result = run_script("backup-redis", "--port", server.port, "--backup-dir", tmp_path / "b",
                        "--data-dir", tmp_path / "not-the-data-dir")
    assert result.returncode == 1
    assert "AOF manifest" in result.stderr and "is not readable here" in result.stderr
    # The RDB was still saved: not found under --data-dir, so fetched over the network.
    assert "fetched with redis-cli --rdb" in result.stdout
    assert len(list((tmp_path / "b").glob("dump_*.rdb.gz"))) == 1


def test_paused_aof_rewrites_are_resumed_even_when_the_copy_fails(
    redis_factory: StartServer,
) -> None:
    server = redis_factory(conf=REDIS_CONF)
    cli = RedisCli(Endpoint(port=server.port))
    with pytest.raises(RuntimeError, match="copy failed"), rewrites_paused(cli):
        assert cli.config_get("auto-aof-rewrite-percentage") == "0"
        raise RuntimeError("copy failed")
    assert cli.config_get("auto-aof-rewrite-percentage") == "100"


def test_backup_dir_that_cannot_be_created_exits_1(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    server = redis_factory()
    result = run_script("backup-redis", "--port", server.port, "--backup-dir", blocker / "b")
    assert result.returncode == 1
    assert "Not a directory" in result.stderr


def test_backups_and_their_directories_are_private(
    redis_factory: StartServer, run_script: RunScript, tmp_path: Path
) -> None:
    """Backups hold every cached value: 0600 files in 0700 directories, whatever
    the umask of the shell or cron that runs the script."""
    server = redis_factory("--appendonly", "yes")
    backups = tmp_path / "nested" / "b"
    old = os.umask(0o022)
    try:
        result = run_script("backup-redis", "--port", server.port, "--backup-dir", backups)
        fetched = run_script("backup-redis", "--port", server.port, "--backup-dir", backups,
                             "--fetch-rdb", "--skip-aof")
    finally:
        os.umask(old)
    assert result.returncode == 0 and fetched.returncode == 0, result.stderr + fetched.stderr
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    assert stat.S_IMODE(backups.parent.stat().st_mode) == 0o700
    made = sorted(backups.iterdir())
    assert {path.name.split("_")[0] for path in made} == {"dump", "appendonly"} and len(made) == 3
    for path in made:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
