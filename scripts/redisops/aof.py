"""Archive Redis 7's multi-part AOF directory consistently.

Used by scripts/backup-redis. Redis 7 keeps the AOF as a directory
(`appenddirname`, default appendonlydir/) holding a base file, incr files and
a manifest naming them. A rewrite replaces the base and incr files and then
the manifest, so copying while one runs can capture a manifest that names
files the copy does not hold. Hence: pause automatic rewrites
(auto-aof-rewrite-percentage 0), wait for aof_rewrite_in_progress:0, copy
the files the manifest names, check no rewrite started meanwhile (the
aof_rewrites counter), and always put the old percentage back.
"""

from __future__ import annotations

import os
import shlex
import sys
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scripts.redisops.rediscli import OpsError, RedisCli, poll, remaining

REWRITE_SETTING = "auto-aof-rewrite-percentage"


@dataclass(frozen=True)
class AofArchive:
    path: Path
    size: int
    source: Path
    files: tuple[str, ...]


def manifest_files(manifest: Path) -> list[str]:
    """File names a manifest lists as live (base and incr; history is being deleted)."""
    names = []
    for line in manifest.read_text().splitlines():
        # Redis writes `file <name> seq <n> type <b|h|i>`, quoting odd names.
        fields = shlex.split(line)
        if len(fields) >= 6 and fields[0] == "file":
            kinds = dict(zip(fields[2::2], fields[3::2], strict=False))
            if kinds.get("type") != "h":
                names.append(fields[1])
    return names


@contextmanager
def rewrites_paused(cli: RedisCli) -> Iterator[None]:
    """Automatic AOF rewrites off for the duration; the old value restored even on failure."""
    old = cli.config_get(REWRITE_SETTING)
    cli.config_set(REWRITE_SETTING, "0")
    try:
        yield
    finally:
        try:
            cli.config_set(REWRITE_SETTING, old)
        except OpsError as exc:
            print(f"backup-redis: WARNING: could not restore {REWRITE_SETTING} to {old}: "
                  f"{exc}; run CONFIG SET {REWRITE_SETTING} {old}", file=sys.stderr)


def backup_aof(cli: RedisCli, data_dir: str | None, target: Path, deadline: float) -> AofArchive:
    directory = Path(data_dir or cli.config_get("dir")) / cli.config_get("appenddirname")
    manifest = directory / (cli.config_get("appendfilename") + ".manifest")
    if not os.access(manifest, os.R_OK):
        raise OpsError(
            f"AOF manifest {manifest} is not readable here; run on the Redis host or pass "
            "--data-dir with the server's data directory as seen from here (or --skip-aof)"
        )
    with rewrites_paused(cli):
        info = poll(lambda: _no_rewrite(cli, deadline), deadline, "the AOF rewrite to end")
        names = manifest_files(manifest)
        size = _write_tar(directory, [manifest.name, *names], target)
        after = cli.info("persistence", timeout=remaining(deadline))
    if after.get("aof_rewrites") != info.get("aof_rewrites"):
        target.unlink()
        raise OpsError("an AOF rewrite ran during the copy (a manual BGREWRITEAOF?); "
                       "the archive could be inconsistent and was deleted: run again")
    return AofArchive(target, size, directory, tuple(names))


def _no_rewrite(cli: RedisCli, deadline: float) -> dict[str, str] | None:
    info = cli.info("persistence", timeout=remaining(deadline))
    busy = info.get("aof_rewrite_in_progress") == "1" or info.get("aof_rewrite_scheduled") == "1"
    return None if busy else info


def _write_tar(directory: Path, names: list[str], target: Path) -> int:
    """tar.gz of `names` under `directory`'s own name; atomic rename at the end.

    The incr file may grow while it is read; tar stores the size it saw at
    the start, which is a prefix Redis can load (aof-load-truncated).
    """
    partial = target.with_name(f".{target.name}.partial")
    try:
        with tarfile.open(partial, "w:gz") as archive:
            for name in names:
                path = directory / name
                if not path.is_file():
                    raise OpsError(f"the AOF manifest names {name} but {path} is missing")
                archive.add(path, arcname=f"{directory.name}/{name}", recursive=False)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, target)
    return target.stat().st_size
