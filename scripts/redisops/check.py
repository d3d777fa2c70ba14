"""scripts/check-production: the guide's production checklist against a live Redis.

Reads the same environment the service reads (REDIS_URL, REDIS_TLS,
REDIS_TLS_CA_FILE, REDIS_TLS_REJECT_UNAUTHORIZED) to find Redis and judge
TLS; --host/--port override the address (password then from REDISCLI_AUTH).
Gathers facts with redis-cli (INFO, CONFIG GET save, one PING without
credentials), runs the items in checklist.py and prints one line each.
With REDIS_SENTINELS and REDIS_SENTINEL_MASTER (Sentinel mode, as the
service reads them) the sentinels are checked too (sentinel_checklist.py)
and the Redis items are run on the master they name, REDIS_URL giving only
credentials and TLS, as it does for the service. The service's own exposure
is judged from the same environment (service.auth: a network HOST needs a
token). With --deploy-files DIR only the deployment files under DIR are
judged (deploy_checklist.py), without any Redis.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scripts.redisops import checklist as checks
from scripts.redisops import deploy_checklist, sentinel_checklist
from scripts.redisops.rediscli import AUTH_ENV, Endpoint, OpsError, RedisCli, env_flag
from scripts.redisops.sentinel import Sentinel, parse_host_ports, sentinel_password

DEFAULT_URL = "redis://localhost:6379"
EXIT_FAIL = 1

EPILOG = """\
Sentinel mode: with REDIS_SENTINELS=host:port,... and REDIS_SENTINEL_MASTER
(the service's own variables) four more items check that a failover can
happen (every listed sentinel answers; a quorum of them name the same
master; SENTINEL CKQUORUM says OK; every replica in sync), and the Redis
items run on the master the sentinels name (--host/--port override it).
The sentinels' password comes from REDIS_SENTINEL_PASSWORD(_FILE).

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
    parser.add_argument("--deploy-files", type=Path, metavar="DIR",
                        help="judge only the deployment files under DIR (a checkout: "
                             "compose, sentinel, systemd, Kubernetes), no Redis")
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


def sentinels(environ: Mapping[str, str], target: Endpoint) -> list[Sentinel]:
    """The listed sentinels, reached with the data nodes' TLS and their own password."""
    name = environ.get("REDIS_SENTINEL_MASTER", "").strip()
    if not name:
        raise OpsError("REDIS_SENTINEL_MASTER is required with REDIS_SENTINELS", 2)
    try:
        addresses = parse_host_ports(environ["REDIS_SENTINELS"])
    except ValueError as exc:
        raise OpsError(f"REDIS_SENTINELS: {exc}", 2) from exc
    template = replace(target, user=None, password=sentinel_password(environ))
    return [Sentinel.at(host, port, name, template) for host, port in addresses]


def sentinel_results(found: list[Sentinel], target: Endpoint,
                     args: argparse.Namespace) -> tuple[list[checks.Result], Endpoint | str]:
    """The Sentinel items, and the master to check (or why there is none)."""
    facts = sentinel_checklist.gather(found, found[0].master_name)
    results = sentinel_checklist.results(facts)
    master = facts.agreed_master
    if args.host or args.port:  # the operator named the node to check
        return results, target
    if master is None:
        return results, f"no sentinel named master {found[0].master_name!r}"
    host, _, port = master.rpartition(":")
    return results, replace(target, host=host, port=int(port))


def redis_results(target: Endpoint | str | None, args: argparse.Namespace,
                  now: float) -> list[checks.Result]:
    """The data node's items; `target` a string says why it cannot be reached."""
    names = ["persistence.rdb", "persistence.aof", "persistence.last-save",
             "memory.maxmemory", "memory.eviction-policy", "security.auth"]
    if target is None:
        why = "REDIS_URL is empty: the service runs memory-only"
        return [checks.Result(checks.FAIL, "redis.connection", why)]
    if isinstance(target, str):
        return [checks.Result(checks.FAIL, "redis.connection", target),
                *(checks.Result(checks.FAIL, n, "not checked (no connection)") for n in names)]
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
    if args.deploy_files is not None:
        return report(deploy_checklist.results(args.deploy_files))
    now = time.time()
    try:
        target = endpoint(args, environ)
        found = sentinels(environ, target) if target and environ.get("REDIS_SENTINELS") else []
    except OpsError as exc:
        print(f"check-production: error: {exc}", file=sys.stderr)
        return exc.code
    sentinel_items: list[checks.Result] = []
    node: Endpoint | str | None = target
    if found and target is not None:
        sentinel_items, node = sentinel_results(found, target, args)
    results = [
        *redis_results(node, args, now),
        *sentinel_items,
        checks.tls(environ, DEFAULT_URL),
        checks.service_auth(environ),
        checks.backups(args.backup_dir, now, args.backup_max_age_hours),
    ]
    return report(results)


def report(results: list[checks.Result]) -> int:
    """One line per item, the counts, and the exit code."""
    for result in results:
        print(f"{result.status}  {result.item:<24} {result.observed}")
    counts = {s: sum(r.status == s for r in results) for s in (checks.PASS, checks.WARN, checks.FAIL)}
    print(f"check-production: {counts['PASS']} pass, {counts['WARN']} warn, {counts['FAIL']} fail")
    return EXIT_FAIL if counts[checks.FAIL] else 0
