"""scripts/backup-redis: snapshot a Redis server's RDB (and AOF) into a backup dir.

Flow: PING -> BGSAVE and wait (snapshot.py) -> gzip the RDB as
dump_YYYYmmdd_HHMMSS.rdb.gz -> when appendonly is yes, archive the AOF
directory as appendonly_YYYYmmdd_HHMMSS.tar.gz (aof.py) -> delete backups
older than the retention, only after this backup succeeded. Everything it
creates is its owner's alone (umask 077: files 0600, directories 0700).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from scripts.redisops.aof import backup_aof
from scripts.redisops.rediscli import (
    OpsError,
    RedisCli,
    add_connection_arguments,
    endpoint_from_args,
    report_progress,
)
from scripts.redisops.snapshot import bgsave, fetch_and_gzip, local_rdb, write_gzip

PATTERNS = ("dump_*.rdb.gz", "appendonly_*.tar.gz")
DAY_S = 86400
PRIVATE_UMASK = 0o077

EPILOG = """\
exit codes: 0 backup written; 1 failed (BGSAVE error, unreadable files);
2 bad usage; 3 Redis unreachable or authentication refused; 4 time limit passed.

Names use UTC: dump_20250101_020000.rdb.gz, appendonly_20250101_020000.tar.gz.
Example (cron, daily at 02:00; redis-backup.env is mode 600 and sets
REDISCLI_AUTH, so the password is in no command line and no crontab):
  0 2 * * * set -a; . /etc/roleready/redis-backup.env; /opt/roleready-cache/scripts/backup-redis >>/var/log/redis-backup.log 2>&1
"""


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="backup-redis", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="BGSAVE a Redis server and keep gzipped copies of its RDB and AOF.",
    )
    add_connection_arguments(parser, environ)
    parser.add_argument("--backup-dir", type=Path,
                        default=environ.get("BACKUP_DIR", "/backups/redis"),
                        help="where backups go (env BACKUP_DIR, default /backups/redis)")
    parser.add_argument("--retention-days", type=int,
                        default=environ.get("RETENTION_DAYS", "30"),
                        help="delete backups older than this many days; 0 keeps all "
                             "(env RETENTION_DAYS, default 30)")
    parser.add_argument("--timeout", type=float,
                        default=environ.get("BACKUP_TIMEOUT_S", "300"),
                        help="seconds allowed for BGSAVE and the AOF wait "
                             "(env BACKUP_TIMEOUT_S, default 300)")
    parser.add_argument("--data-dir", default=None,
                        help="the server's data directory as seen from here (e.g. a "
                             "Docker volume path); default: CONFIG GET dir")
    parser.add_argument("--fetch-rdb", action="store_true",
                        help="always fetch the RDB with `redis-cli --rdb` instead of copying")
    parser.add_argument("--skip-aof", action="store_true",
                        help="do not archive the AOF directory even when appendonly is yes")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    args = build_parser(environ).parse_args(argv)
    # Backups hold every cached value (personal data among them): whatever
    # this process creates (the gzip, the AOF archive, redis-cli --rdb's
    # file, the backup directory) is for its owner alone, 0600 and 0700.
    os.umask(PRIVATE_UMASK)
    # SIGTERM (cron killed, container stopping) must still run the `finally`
    # that puts auto-aof-rewrite-percentage back.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    def steps() -> Iterator[str]:
        if args.retention_days < 0 or args.timeout <= 0:
            raise OpsError("--retention-days must be >= 0 and --timeout > 0", 2)
        return run_backup(args, RedisCli(endpoint_from_args(args, environ)))

    return report_progress("backup-redis", steps)


def run_backup(args: argparse.Namespace, cli: RedisCli) -> Iterator[str]:
    """Make the backup, yielding what was written and deleted as it happens.

    A generator, so that when a later step fails the operator has already
    been told about the files the earlier steps wrote.
    """
    deadline = time.monotonic() + args.timeout
    cli.run("PING")
    args.backup_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = unique_stamp(args.backup_dir)
    yield rdb_backup(args, cli, args.backup_dir / f"dump_{stamp}.rdb.gz", deadline)
    if not args.skip_aof and cli.config_get("appendonly") == "yes":
        archive = backup_aof(cli, args.data_dir, args.backup_dir / f"appendonly_{stamp}.tar.gz",
                             deadline)
        yield (f"wrote {archive.path} ({archive.size} bytes; {len(archive.files)} AOF "
               f"files + manifest from {archive.source})")
    for old in prune(args.backup_dir, args.retention_days, time.time()):
        yield f"deleted {old} (older than {args.retention_days} days)"


def rdb_backup(args: argparse.Namespace, cli: RedisCli, target: Path, deadline: float) -> str:
    snapshot = bgsave(cli, deadline)
    source = None if args.fetch_rdb else local_rdb(cli, args.data_dir, snapshot)
    if source is None:
        size = fetch_and_gzip(cli, target, deadline)
        origin = "fetched with redis-cli --rdb"
    else:
        size = write_gzip(source, target)
        origin = f"copied from {source}"
    return (f"wrote {target} ({size} bytes; LASTSAVE {snapshot.lastsave_before} -> "
            f"{snapshot.lastsave_after}; {origin})")


def unique_stamp(backup_dir: Path) -> str:
    """A UTC timestamp no existing backup uses (two runs in one second get _2)."""
    base = time.strftime("%Y%m%d_%H%M%S", time.gmtime())
    stamp, n = base, 1
    while any((backup_dir / p.replace("*", stamp)).exists() for p in PATTERNS):
        n += 1
        stamp = f"{base}_{n}"
    return stamp


def prune(backup_dir: Path, retention_days: int, now: float) -> list[Path]:
    """Delete our backup files whose mtime is more than `retention_days` old."""
    if retention_days == 0:
        return []
    deleted = []
    for pattern in PATTERNS:
        for path in sorted(backup_dir.glob(pattern)):
            if now - path.stat().st_mtime > retention_days * DAY_S:
                path.unlink()
                deleted.append(path)
    return deleted
