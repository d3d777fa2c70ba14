"""scripts/restore-redis: what it refuses, and how it replaces files when told to."""

from __future__ import annotations

import gzip
import io
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.harness.redis_server import RedisServer
from tests.ops.conftest import RunScript, StartServer

MakeBackup = Callable[..., Path]


@pytest.fixture
def rdb_backup(redis_factory: StartServer, tmp_path: Path) -> MakeBackup:
    """`rdb_backup(**keys)`: a dump_*.rdb.gz of a server holding exactly those keys."""
    made: list[Path] = []

    def make(**keys: str) -> Path:
        server = redis_factory()
        with server.client() as client:
            client.mset(keys)
            client.save()
        target = tmp_path / f"dump_2025010{len(made)}_020000.rdb.gz"
        with (server.data_dir / "dump.rdb").open("rb") as raw, gzip.open(target, "wb") as out:
            shutil.copyfileobj(raw, out)
        made.append(target)
        return target

    return make


def test_refuses_the_directory_of_a_running_server(
    redis_server: RedisServer, rdb_backup: MakeBackup, run_script: RunScript
) -> None:
    result = run_script("restore-redis", rdb_backup(a="1"), "--data-dir", redis_server.data_dir)
    assert result.returncode == 3
    assert f"redis-server (PID {redis_server.pid}) is running in {redis_server.data_dir}" in (
        result.stderr)
    assert not (redis_server.data_dir / "dump.rdb").exists()


def test_refuses_when_the_given_port_answers(
    redis_server: RedisServer, rdb_backup: MakeBackup, run_script: RunScript, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere"
    result = run_script("restore-redis", rdb_backup(a="1"), "--data-dir", target,
                        "--port", redis_server.port)
    assert result.returncode == 3
    assert f"a server is listening on 127.0.0.1:{redis_server.port}" in result.stderr
    assert list(target.iterdir()) == []


def test_replaces_files_only_with_force_and_keeps_the_old_ones(
    rdb_backup: MakeBackup, run_script: RunScript, redis_factory: StartServer, tmp_path: Path
) -> None:
    first, second = rdb_backup(v="first"), rdb_backup(v="second")
    data = tmp_path / "data"
    assert run_script("restore-redis", first, "--data-dir", data).returncode == 0
    original = (data / "dump.rdb").read_bytes()

    refused = run_script("restore-redis", second, "--data-dir", data)
    assert refused.returncode == 4
    assert "dump.rdb already in" in refused.stderr and "--force" in refused.stderr
    assert (data / "dump.rdb").read_bytes() == original

    forced = run_script("restore-redis", second, "--data-dir", data, "--force")
    assert forced.returncode == 0, forced.stderr
    [aside] = data.glob("dump.rdb.before-restore-*")
    assert f"moved the existing dump.rdb to {aside}" in forced.stdout
    assert aside.read_bytes() == original
    with redis_factory(data_dir=data).client() as client:
        assert client.get("v") == b"second"


def test_rejects_a_corrupt_rdb_before_touching_the_data_dir(
    run_script: RunScript, tmp_path: Path
) -> None:
    corrupt = tmp_path / "dump_20250101_020000.rdb.gz"
    corrupt.write_bytes(gzip.compress(b"REDIS0010" + bytes(range(256)) * 4))
    data = tmp_path / "data"
    result = run_script("restore-redis", corrupt, "--data-dir", data)
    assert result.returncode == 1
    assert "redis-check-rdb rejects the backup" in result.stderr
    assert list(data.iterdir()) == []


def test_rejects_a_file_that_is_not_an_rdb(run_script: RunScript, tmp_path: Path) -> None:
    bogus = tmp_path / "dump_20250101_020000.rdb"
    bogus.write_text("not a snapshot")
    result = run_script("restore-redis", bogus, "--data-dir", tmp_path / "data")
    assert result.returncode == 1
    assert "is not an RDB file" in result.stderr


def test_rdb_next_to_an_aof_directory_explains_the_pitfall(
    rdb_backup: MakeBackup, run_script: RunScript, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    (data / "appendonlydir").mkdir(parents=True)
    dump = rdb_backup(a="1")
    refused = run_script("restore-redis", dump, "--data-dir", data)
    assert refused.returncode == 4
    assert "loads only the AOF and would ignore the restored RDB" in refused.stderr
    assert "--rebuild-aof" in refused.stderr
    assert not (data / "dump.rdb").exists()

    forced = run_script("restore-redis", dump, "--data-dir", data, "--force")
    assert forced.returncode == 0, forced.stderr
    assert not (data / "appendonlydir").exists()
    assert list(data.glob("appendonlydir.before-restore-*"))
    assert "start the server with appendonly no" in forced.stdout


def _tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def test_rejects_an_archive_member_outside_the_aof_directory(
    run_script: RunScript, tmp_path: Path
) -> None:
    archive = _tar(tmp_path / "appendonly_20250101_020000.tar.gz", {
        "appendonlydir/appendonly.aof.manifest": b"",
        "appendonlydir/../../escaped": b"owned",
    })
    data = tmp_path / "data"
    result = run_script("restore-redis", archive, "--data-dir", data)
    assert result.returncode == 1
    assert "unexpected member 'appendonlydir/../../escaped'" in result.stderr
    assert not (tmp_path / "escaped").exists() and list(data.iterdir()) == []


def test_rejects_an_aof_archive_missing_a_file_its_manifest_names(
    run_script: RunScript, tmp_path: Path
) -> None:
    manifest = b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    archive = _tar(tmp_path / "appendonly_20250101_020000.tar.gz", {
        "appendonlydir/appendonly.aof.manifest": manifest,
        "appendonlydir/appendonly.aof.1.incr.aof": b"",
    })
    result = run_script("restore-redis", archive, "--data-dir", tmp_path / "data")
    assert result.returncode == 1
    assert "names files the backup lacks: appendonly.aof.1.base.rdb" in result.stderr


def test_rebuild_aof_is_only_for_rdb_backups(run_script: RunScript, tmp_path: Path) -> None:
    archive = _tar(tmp_path / "appendonly_20250101_020000.tar.gz", {})
    result = run_script("restore-redis", archive, "--data-dir", tmp_path / "d", "--rebuild-aof")
    assert result.returncode == 2
    assert "--rebuild-aof applies to RDB backups only" in result.stderr
