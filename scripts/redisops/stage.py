"""Unpack and verify a backup in a staging directory (for scripts/restore-redis).

Nothing touches the server's files until the backup has been unpacked next
to them (same filesystem, so the final move is a rename) and has passed
redis-check-rdb / redis-check-aof. AOF archives are unpacked member by
member, keeping only base names, so a crafted archive cannot write outside
the staging directory.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

from scripts.redisops.aof import manifest_files
from scripts.redisops.rediscli import OpsError

RDB_MAGIC = b"REDIS"
CHECK_TIMEOUT_S = 600


def backup_kind(backup: Path) -> str:
    name = backup.name
    if name.endswith((".rdb", ".rdb.gz")):
        return "rdb"
    if name.endswith((".tar.gz", ".tgz")):
        return "aof"
    raise OpsError(f"{backup}: expected a .rdb, .rdb.gz or AOF .tar.gz backup", 2)


def stage_rdb(backup: Path, staging: Path, dbfilename: str) -> Path:
    target = staging / dbfilename
    try:
        opener = gzip.open if backup.name.endswith(".gz") else open
        with opener(backup, "rb") as source, target.open("wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    except (OSError, EOFError) as exc:
        raise OpsError(f"cannot read {backup}: {exc}") from exc
    with target.open("rb") as check:
        if check.read(len(RDB_MAGIC)) != RDB_MAGIC:
            raise OpsError(f"{backup} is not an RDB file (no REDIS header)")
    return target


def stage_aof(backup: Path, staging: Path, appenddirname: str) -> Path:
    """Unpack `<dir>/<file>` members into staging/<appenddirname>/."""
    target = staging / appenddirname
    target.mkdir()
    try:
        with tarfile.open(backup, "r:gz") as archive:
            for member in archive.getmembers():
                _extract_member(archive, member, target, backup)
    except (OSError, EOFError, tarfile.TarError) as exc:
        raise OpsError(f"cannot read {backup}: {exc}") from exc
    return target


def _extract_member(archive: tarfile.TarFile, member: tarfile.TarInfo,
                    target: Path, backup: Path) -> None:
    parts = Path(member.name).parts
    if member.isdir() and len(parts) == 1:
        return
    if not member.isfile() or len(parts) != 2 or ".." in parts or parts[1].startswith("."):
        raise OpsError(f"{backup}: unexpected member {member.name!r}; an AOF backup holds "
                       "only <appenddirname>/<file> entries")
    source = archive.extractfile(member)
    assert source is not None  # isfile() members always have content
    with source, (target / parts[1]).open("wb") as out:
        shutil.copyfileobj(source, out, 1 << 20)


def find_manifest(aof_dir: Path, appendfilename: str) -> Path:
    manifest = aof_dir / f"{appendfilename}.manifest"
    if not manifest.is_file():
        found = sorted(p.name for p in aof_dir.glob("*.manifest")) or ["none"]
        raise OpsError(f"no {manifest.name} in the AOF backup (found: {', '.join(found)}); "
                       "pass --appendfilename to match the server's appendfilename")
    missing = [n for n in manifest_files(manifest) if not (aof_dir / n).is_file()]
    if missing:
        raise OpsError(f"the AOF manifest names files the backup lacks: {', '.join(missing)}")
    return manifest


def verify_rdb(path: Path) -> str:
    output = _run_check("redis-check-rdb", path)
    if output is None:
        return "not verified: redis-check-rdb is not installed"
    keys = re.search(r"(\d+) keys read", output)
    return f"redis-check-rdb: OK ({keys.group(1) if keys else '?'} keys)"


def verify_aof(manifest: Path) -> str:
    if _run_check("redis-check-aof", manifest) is None:
        return "not verified: redis-check-aof is not installed"
    return "redis-check-aof: all AOF files and manifest are valid"


def _run_check(tool: str, path: Path) -> str | None:
    binary = shutil.which(tool)
    if binary is None:
        return None
    done = subprocess.run([binary, str(path)], capture_output=True, text=True,
                          timeout=CHECK_TIMEOUT_S, check=False)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        tail = " | ".join(output.strip().splitlines()[-4:])
        raise OpsError(f"{tool} rejects the backup ({path.name}): {tail}")
    return output
