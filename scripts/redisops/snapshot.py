"""BGSAVE done right, and getting the resulting RDB onto this machine.

Used by scripts/backup-redis. The guide's script waits for LASTSAVE to move
but never reads it first, has no time limit, and copies a hard-coded path.
Here: wait until no save or AOF rewrite is running (BGSAVE would refuse),
read LASTSAVE, BGSAVE, then poll INFO persistence until the save finishes,
fails (rdb_last_bgsave_status:err) or the time limit passes. The file is
then read from the server's own CONFIG GET dir + dbfilename when that file
is here and really is the snapshot just written, else fetched over the
network with `redis-cli --rdb`.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from scripts.redisops.rediscli import EXIT_TIMEOUT, OpsError, RedisCli, poll, remaining

# BGSAVE refuses while another fork child runs; these replies mean "try again".
BUSY_REPLIES = ("already in progress", "rewriting in progress", "can't bgsave right now")
# An RDB file's mtime is its last write; LASTSAVE is set moments after the
# rename. A file older than this before LASTSAVE is not the snapshot we made.
MTIME_SLACK_S = 5.0
RDB_MAGIC = b"REDIS"


@dataclass(frozen=True)
class Snapshot:
    lastsave_before: int
    lastsave_after: int


def bgsave(cli: RedisCli, deadline: float) -> Snapshot:
    """Run one BGSAVE of our own and wait for its outcome."""
    while True:
        poll(lambda: _idle(cli, deadline), deadline, "a running save or AOF rewrite to end")
        before = int(cli.run("LASTSAVE", timeout=remaining(deadline)))
        try:
            cli.run("BGSAVE", timeout=remaining(deadline))
            break
        except OpsError as exc:
            if not any(busy in str(exc).lower() for busy in BUSY_REPLIES):
                raise
            # Someone else's fork started between our check and BGSAVE: wait again.
    info = _wait_for_save(cli, before, deadline)
    return Snapshot(before, int(info["rdb_last_save_time"]))


def _idle(cli: RedisCli, deadline: float) -> dict[str, str] | None:
    info = cli.info("persistence", timeout=remaining(deadline))
    busy = info.get("rdb_bgsave_in_progress") == "1" or info.get("aof_rewrite_in_progress") == "1"
    return None if busy else info


def _wait_for_save(cli: RedisCli, before: int, deadline: float) -> dict[str, str]:
    """Poll until LASTSAVE moves or our save child ends; raise on err or timeout.

    rdb_last_save_time in INFO is the value LASTSAVE returns, read in the
    same snapshot as the in-progress flag and status. LASTSAVE has 1-second
    resolution, so a save that ends in the same second as the previous one
    does not move it: a finished child with status ok also counts.
    """
    def finished() -> dict[str, str] | None:
        info = cli.info("persistence", timeout=remaining(deadline))
        moved = int(info["rdb_last_save_time"]) != before
        done = info.get("rdb_bgsave_in_progress") == "0"
        if done and info.get("rdb_last_bgsave_status") != "ok":
            raise OpsError(
                "BGSAVE failed (rdb_last_bgsave_status:err): Redis could not write its "
                "snapshot; check the server log, free disk space and that `dir` is writable"
            )
        return info if moved or done else None

    try:
        return poll(finished, deadline, "BGSAVE")
    except OpsError as exc:
        if exc.code != EXIT_TIMEOUT:
            raise
        raise OpsError(
            f"BGSAVE did not finish before the time limit (LASTSAVE still {before}); the "
            "save may still be running on the server: raise --timeout for large datasets",
            EXIT_TIMEOUT,
        ) from exc


def local_rdb(cli: RedisCli, data_dir: str | None, snapshot: Snapshot) -> Path | None:
    """The server's RDB file when it is readable here and is the snapshot just made."""
    directory = data_dir or cli.config_get("dir")
    path = Path(directory) / cli.config_get("dbfilename")
    try:
        fresh = path.stat().st_mtime >= snapshot.lastsave_after - MTIME_SLACK_S
    except OSError:
        return None
    return path if fresh and os.access(path, os.R_OK) else None


def write_gzip(source: Path, target: Path) -> int:
    """gzip `source` into `target` atomically (a partial file never has the final name)."""
    with source.open("rb") as raw:
        # The open handle keeps reading this snapshot even if Redis renames a
        # newer dump.rdb over the path meanwhile.
        if raw.read(len(RDB_MAGIC)) != RDB_MAGIC:
            raise OpsError(f"{source} is not an RDB file (no REDIS header)")
        raw.seek(0)
        partial = target.with_name(f".{target.name}.partial")
        with gzip.open(partial, "wb") as packed:
            shutil.copyfileobj(raw, packed, 1 << 20)
    os.replace(partial, target)
    return target.stat().st_size


def fetch_and_gzip(cli: RedisCli, target: Path, deadline: float) -> int:
    """`redis-cli --rdb` into a temporary file next to `target`, then gzip it."""
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".fetch-") as tmp:
        raw = Path(tmp) / "dump.rdb"
        cli.fetch_rdb(str(raw), timeout=remaining(deadline))
        return write_gzip(raw, target)
