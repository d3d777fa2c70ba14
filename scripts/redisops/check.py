"""scripts/check-production: the guide's production checklist against a live Redis.

Reads the same environment the service reads (REDIS_URL, REDIS_TLS,
REDIS_TLS_CA_FILE, REDIS_TLS_REJECT_UNAUTHORIZED) to find Redis and judge
TLS; --host/--port override the address (password then from REDISCLI_AUTH).
Gathers facts with redis-cli (INFO, CONFIG GET save, one PING without
credentials), runs the items in checklist.py and prints one line each.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scripts.redisops import checklist as checks
from scripts.redisops.rediscli import AUTH_ENV, Endpoint, OpsError, RedisCli, env_flag

DEFAULT_URL = "redis://localhost:6379"
EXIT_FAIL = 1

EPILOG = """\
exit codes: 0 no FAIL (WARNs allowed); 1 at least one FAIL; 2 bad usage.
The password comes from REDIS_URL (as the service reads it) or REDISCLI_AUTH
and is never printed.
"""


def build_parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="check-production", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check Redis and the service's Redis settings against the guide's "
                    "production checklist; one PASS/WARN/FAIL line per item.")
    parser.add_argument("--host", help="Redis host (default: from REDIS_URL)")
    parser.add_argument("--port", type=int, help="Redis port (default: from REDIS_URL)")
    parser.add_argument("--backup-dir", type=Path,
                        default=environ.get("BACKUP_DIR", "/backups/redis"),
                        help="where backup-redis writes (env BACKUP_DIR, default /backups/redis)")
    parser.add_argument("--backup-max-age-hours", type=float, default=26.0,
                        help="newest dump_*.rdb.gz must be younger (default 26: daily + slack)")
    parser.add_argument("--save-max-age-hours", type=float, default=1.0,
                        help="WARN when unsaved changes are older than this (default 1)")
    return parser


def endpoint(args: argparse.Namespace, environ: Mapping[str, str]) -> Endpoint | None:
    """Where the service's Redis is, as the service would connect; None if memory-only."""
    url = environ.get("REDIS_URL", DEFAULT_URL)
    if not url and not args.host:
        return None
    parts = urlsplit(url or DEFAULT_URL)
    if parts.scheme not in ("redis", "rediss"):
        raise OpsError(f"REDIS_URL has scheme {parts.scheme!r}; expected redis or rediss", 2)
    password = unquote(parts.password) if parts.password else environ.get(AUTH_ENV)
    try:
        url_port = parts.port
    except ValueError as exc:
        raise OpsError(f"REDIS_URL has a bad port: {exc}", 2) from exc
    return Endpoint(
        host=args.host or parts.hostname or "localhost",
        port=args.port or url_port or 6379,
        user=unquote(parts.username) if parts.username else None,
        tls=parts.scheme == "rediss" or env_flag(environ, "REDIS_TLS"),
        cacert=environ.get("REDIS_TLS_CA_FILE") or None,
        insecure=environ.get("REDIS_TLS_REJECT_UNAUTHORIZED", "").lower() in checks.FALSE_WORDS,
        password=password or None,
    )


def gather(cli: RedisCli) -> checks.RedisFacts:
    info = cli.info()
    try:
        save: str | None = cli.config_get("save")
    except OpsError:
        save = None
    try:
        reply = cli.run("PING", authenticated=False)
    except OpsError as exc:
        reply = str(exc)
    return checks.RedisFacts(info=info, save=save, unauthenticated_reply=reply)


def redis_results(target: Endpoint | None, args: argparse.Namespace,
                  now: float) -> list[checks.Result]:
    names = ["persistence.rdb", "persistence.aof", "persistence.last-save",
             "memory.maxmemory", "memory.eviction-policy", "security.auth"]
    if target is None:
        why = "REDIS_URL is empty: the service runs memory-only"
        return [checks.Result(checks.FAIL, "redis.connection", why)]
    try:
        facts = gather(RedisCli(target))
    except OpsError as exc:
        return [checks.Result(checks.FAIL, "redis.connection", str(exc)),
                *(checks.Result(checks.FAIL, n, "not checked (no connection)") for n in names)]
    version = facts.info.get("redis_version", "?")
    return [
        checks.Result(checks.PASS, "redis.connection", f"{target.describe()} (redis {version})"),
        checks.rdb(facts), checks.aof(facts),
        checks.last_save(facts, now, args.save_max_age_hours),
        checks.maxmemory(facts), checks.eviction_policy(facts), checks.auth(facts),
    ]


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    args = build_parser(environ).parse_args(argv)
    now = time.time()
    try:
        target = endpoint(args, environ)
    except OpsError as exc:
        print(f"check-production: error: {exc}", file=sys.stderr)
        return exc.code
    results = [
        *redis_results(target, args, now),
        checks.tls(environ, DEFAULT_URL),
        checks.backups(args.backup_dir, now, args.backup_max_age_hours),
    ]
    for result in results:
        print(f"{result.status}  {result.item:<24} {result.observed}")
    counts = {s: sum(r.status == s for r in results) for s in (checks.PASS, checks.WARN, checks.FAIL)}
    print(f"check-production: {counts['PASS']} pass, {counts['WARN']} warn, {counts['FAIL']} fail")
    return EXIT_FAIL if counts[checks.FAIL] else 0
