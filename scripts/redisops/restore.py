"""scripts/restore-redis: put a backup back into a stopped server's data directory.

Flow: refuse if a redis-server is using the directory (running.py) ->
refuse if files would be replaced without --force -> unpack into a staging
directory and verify (stage.py) -> move replaced files aside as
`<name>.before-restore-<UTC stamp>` -> rename the staged files into place
-> optionally rebuild the AOF from the RDB (rebuild.py; its temporary
redis-server runs as the data directory's owner, not root) -> give the files
the data directory's owner (when run as root, like the guide's chown, but
never following a symlink).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from scripts.redisops.rebuild import rebuild_aof
from scripts.redisops.rediscli import OpsError, report_progress
from scripts.redisops.running import ensure_stopped
from scripts.redisops.stage import (
    backup_kind,
    find_manifest,
    stage_aof,
    stage_rdb,
    verify_aof,
    verify_rdb,
)

EXIT_WOULD_OVERWRITE = 4

EPILOG = """\
exit codes: 0 restored; 1 bad backup (failed redis-check-rdb/-aof) or rebuild
failed; 2 bad usage; 3 a redis-server is using the data directory;
4 files would be replaced and --force was not given.

"Running" means: a process named redis-server whose working directory is
--data-dir (Redis chdir()s into its `dir`; checked through /proc), or, with
--port, anything listening on --host:--port.

RDB into a server with appendonly yes: Redis 7 then loads only the AOF and
ignores dump.rdb (and with the AOF directory merely moved aside it starts
EMPTY). Use --rebuild-aof: a temporary redis-server on a private socket
loads the RDB and writes a fresh AOF directory from it.
"""


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="restore-redis", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Restore dump_*.rdb[.gz] or appendonly_*.tar.gz into a stopped "
                    "Redis server's data directory.")
    parser.add_argument("backup", type=Path, help="the backup file to restore")
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="the stopped server's `dir` (e.g. /var/lib/redis)")
    parser.add_argument("--dbfilename", default="dump.rdb", help="server's dbfilename")
    parser.add_argument("--appenddirname", default="appendonlydir",
                        help="server's appenddirname (default appendonlydir)")
    parser.add_argument("--appendfilename", default="appendonly.aof",
                        help="server's appendfilename (default appendonly.aof)")
    parser.add_argument("--host", default=environ.get("REDIS_HOST", "127.0.0.1"),
                        help="with --port: where the server would listen")
    parser.add_argument("--port", type=int, default=None,
                        help="also refuse when anything listens on --host:PORT")
    parser.add_argument("--force", action="store_true",
                        help="replace existing files (they are moved aside, not deleted)")
    parser.add_argument("--rebuild-aof", action="store_true",
                        help="after restoring an RDB, build the AOF directory from it "
                             "(for servers with appendonly yes)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds allowed for --rebuild-aof (default 300)")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = build_parser(os.environ if environ is None else environ).parse_args(argv)
    return report_progress("restore-redis", lambda: run_restore(args))


def run_restore(args: argparse.Namespace) -> Iterator[str]:
    """Restore, yielding each step as it happens (so a late failure still shows
    which files were already moved aside)."""
    kind = backup_kind(args.backup)
    if kind == "aof" and args.rebuild_aof:
        raise OpsError("--rebuild-aof applies to RDB backups only", 2)
    if not args.backup.is_file():
        raise OpsError(f"{args.backup}: no such backup file", 2)
    data_dir = args.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    yield from ensure_stopped(data_dir, args.host, args.port)
    replaced = files_to_replace(kind, args, data_dir)
    stamp = time.strftime("%Y%m%d_%H%M%S", time.gmtime())
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".restore-") as tmp:
        staged, check = stage_and_verify(kind, args, Path(tmp))
        yield f"verified {args.backup} ({check})"
        for name in replaced:
            aside = unused_name(data_dir / f"{name}.before-restore-{stamp}")
            os.replace(data_dir / name, aside)
            yield f"moved the existing {name} to {aside}"
        os.replace(staged, data_dir / staged.name)
        yield f"restored {data_dir / staged.name}"
    if args.rebuild_aof:
        # The temporary redis-server that reads the backup runs as the data
        # directory's owner, not as root: the RDB must be that owner's first.
        match_owner(data_dir, [args.dbfilename])
        yield rebuild_aof(data_dir, args.dbfilename, args.appenddirname,
                          args.appendfilename, args.timeout, data_owner(data_dir))
        yield verify_aof(find_manifest(data_dir / args.appenddirname, args.appendfilename))
    match_owner(data_dir, [args.dbfilename, args.appenddirname])
    yield next_step(kind, args)


def files_to_replace(kind: str, args: argparse.Namespace, data_dir: Path) -> list[str]:
    """Existing names the restore replaces; refuses without --force (and the RDB pitfall)."""
    aof_present = (data_dir / args.appenddirname).exists()
    if kind == "rdb" and aof_present and not (args.rebuild_aof or args.force):
        raise OpsError(
            f"{data_dir} holds {args.appenddirname}/: a server with appendonly yes loads "
            "only the AOF and would ignore the restored RDB. Use --rebuild-aof --force to "
            "rebuild the AOF from this backup, or --force (server with appendonly no) to "
            f"move {args.appenddirname}/ aside", EXIT_WOULD_OVERWRITE)
    names = [args.dbfilename, args.appenddirname] if kind == "rdb" else [args.appenddirname]
    existing = [name for name in names if (data_dir / name).exists()]
    if existing and not args.force:
        raise OpsError(f"{', '.join(existing)} already in {data_dir}: pass --force to "
                       "replace (the old files are moved aside, not deleted)",
                       EXIT_WOULD_OVERWRITE)
    return existing


def unused_name(path: Path) -> Path:
    """`path`, or `path_2`, `path_3`...: never replace an earlier set-aside copy."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}_{n}")
    return candidate


def stage_and_verify(kind: str, args: argparse.Namespace, staging: Path) -> tuple[Path, str]:
    if kind == "rdb":
        rdb = stage_rdb(args.backup, staging, args.dbfilename)
        return rdb, verify_rdb(rdb)
    aof_dir = stage_aof(args.backup, staging, args.appenddirname)
    return aof_dir, verify_aof(find_manifest(aof_dir, args.appendfilename))


def match_owner(data_dir: Path, names: list[str]) -> None:
    """As root, give restored files the data directory's owner (Redis must write them).

    The directory belongs to the Redis user, who may put a symlink where a
    restored file was (to /etc/shadow, say): nothing here follows one. Each
    item is changed with lchown (a symlink itself, never its target) and
    the walk does not descend into symlinked directories.
    """
    owner = data_owner(data_dir)
    if owner is None:
        return
    for name in names:
        path = data_dir / name
        if not os.path.lexists(path):
            continue
        os.chown(path, *owner, follow_symlinks=False)
        if not path.is_symlink() and path.is_dir():
            for root, dirs, files in os.walk(path, followlinks=False):
                for item in [*dirs, *files]:
                    os.chown(os.path.join(root, item), *owner, follow_symlinks=False)


def data_owner(data_dir: Path) -> tuple[int, int] | None:
    """The (uid, gid) restored files must get: the data directory's, when this
    runs as root and the directory is not root's; else None (nothing to do)."""
    if os.geteuid() != 0:
        return None
    found = data_dir.stat()
    return None if found.st_uid == 0 else (found.st_uid, found.st_gid)


def next_step(kind: str, args: argparse.Namespace) -> str:
    if kind == "aof" or args.rebuild_aof:
        return ("start the server with appendonly yes (appenddirname "
                f"{args.appenddirname}); it loads the AOF")
    return ("start the server with appendonly no to load the RDB (with appendonly yes it "
            "would ignore it: use --rebuild-aof)")
