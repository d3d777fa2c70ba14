"""restore-redis run as root: ownership changes never follow a symlink, and
the temporary redis-server of --rebuild-aof runs as the data directory's
owner, not as root. (The suite runs as root in its container: these are
the cases that matter there.)"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.redisops.restore import match_owner
from tests.ops.conftest import RunScript
from tests.ops.test_restore import MakeBackup, rdb_backup  # noqa: F401 (the fixture)

NOBODY = 65534


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp_path is root's, 0700)."""
    path = Path(tempfile.mkdtemp(prefix="restore-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _owner(path: Path) -> int:
    return os.lstat(path).st_uid


def test_ownership_never_follows_a_symlink(shared_dir: Path) -> None:
    assert os.geteuid() == 0, "the suite's container runs as root"
    data = shared_dir / "data"
    outside = shared_dir / "outside"
    data.mkdir()
    outside.mkdir()
    os.chown(data, NOBODY, NOBODY)
    secret = outside / "shadow"
    secret.write_text("root's")
    (data / "dump.rdb").symlink_to(secret)  # the Redis user swapped the file for a link
    aof = data / "appendonlydir"
    aof.mkdir()
    (aof / "appendonly.aof.1.base.rdb").write_bytes(b"REDIS")
    (aof / "link").symlink_to(secret)
    (aof / "linked-dir").symlink_to(outside, target_is_directory=True)
    match_owner(data, ["dump.rdb", "appendonlydir"])
    assert _owner(secret) == 0 and _owner(outside) == 0
    for item in (data / "dump.rdb", aof, aof / "appendonly.aof.1.base.rdb", aof / "link",
                 aof / "linked-dir"):
        assert _owner(item) == NOBODY, item


def test_the_rebuild_server_runs_as_the_data_directory_owner(
    rdb_backup: MakeBackup, run_script: RunScript, shared_dir: Path  # noqa: F811
) -> None:
    data = shared_dir / "data"
    data.mkdir()
    os.chown(data, NOBODY, NOBODY)
    seen = shared_dir / "seen"
    seen.mkdir()
    seen.chmod(0o777)
    shim = shared_dir / "bin"
    shim.mkdir()
    real = shutil.which("redis-server")
    assert real is not None
    wrapper = shim / "redis-server"
    wrapper.write_text(f"#!/bin/sh\nid -u > {seen}/uid\nexec {real} \"$@\"\n")
    wrapper.chmod(0o755 | stat.S_IEXEC)
    backup = rdb_backup(k="v")
    result = run_script("restore-redis", backup, "--data-dir", data, "--rebuild-aof",
                        path_prefix=shim)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (seen / "uid").read_text().strip() == str(NOBODY)
    for root, dirs, files in os.walk(data):
        for name in [*dirs, *files]:
            assert _owner(Path(root) / name) == NOBODY, name
