"""The production checklist items, as pure functions of observed facts.

Used by scripts/check-production (check.py gathers the facts). Each item
of the guide's "Production Checklist" that can be observed from outside
becomes one Result: PASS, WARN (works, but not what the guide recommends)
or FAIL (the guide's requirement is not met). Keeping them pure lets each
threshold be read, and changed, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
MB = 1024 * 1024
FALSE_WORDS = ("0", "false", "no", "off")


@dataclass(frozen=True)
class Result:
    status: str
    item: str
    observed: str


@dataclass(frozen=True)
class RedisFacts:
    info: Mapping[str, str]
    save: str | None  # None when CONFIG GET is not allowed (managed services)
    unauthenticated_reply: str


def rdb(facts: RedisFacts) -> Result:
    aof_on = facts.info.get("aof_enabled") == "1"
    if facts.save is None:
        return Result(WARN, "persistence.rdb", "save points unknown (CONFIG GET refused)")
    if facts.save.strip():
        return Result(PASS, "persistence.rdb", f'save "{facts.save}"')
    return Result(WARN if aof_on else FAIL, "persistence.rdb",
                  "no save points (RDB snapshots off)" + ("; AOF is on" if aof_on else ""))


def aof(facts: RedisFacts) -> Result:
    info = facts.info
    if info.get("aof_enabled") != "1":
        rdb_on = bool(facts.save and facts.save.strip())
        return Result(WARN if rdb_on else FAIL, "persistence.aof", "appendonly no")
    if info.get("aof_last_write_status") != "ok":
        return Result(FAIL, "persistence.aof",
                      f"appendonly yes but aof_last_write_status:{info.get('aof_last_write_status')}")
    return Result(PASS, "persistence.aof", "appendonly yes, aof_last_write_status:ok")


def last_save(facts: RedisFacts, now: float, max_age_h: float) -> Result:
    info = facts.info
    status = info.get("rdb_last_bgsave_status", "?")
    age_h = (now - int(info.get("rdb_last_save_time", "0"))) / 3600
    pending = int(info.get("rdb_changes_since_last_save", "0"))
    observed = (f"rdb_last_bgsave_status:{status}, last save {age_h:.1f} h ago, "
                f"{pending} changes since")
    if status != "ok":
        return Result(FAIL, "persistence.last-save", observed)
    # An old save with nothing changed since is fine; old with changes means
    # the save points are not firing.
    stale = pending > 0 and age_h > max_age_h
    return Result(WARN if stale else PASS, "persistence.last-save", observed)


def maxmemory(facts: RedisFacts) -> Result:
    limit = int(facts.info.get("maxmemory", "0"))
    if limit <= 0:
        return Result(FAIL, "memory.maxmemory", "0 (no limit: Redis grows until the OS kills it)")
    return Result(PASS, "memory.maxmemory", f"{limit} bytes ({limit / MB:g} MB)")


def eviction_policy(facts: RedisFacts) -> Result:
    policy = facts.info.get("maxmemory_policy", "?")
    if policy == "allkeys-lru":
        return Result(PASS, "memory.eviction-policy", policy)
    # noeviction makes a full cache reject writes with OOM errors.
    status = FAIL if policy == "noeviction" else WARN
    return Result(status, "memory.eviction-policy", f"{policy} (allkeys-lru recommended)")


def auth(facts: RedisFacts) -> Result:
    reply = facts.unauthenticated_reply
    if "NOAUTH" in reply:
        return Result(PASS, "security.auth", "unauthenticated PING refused (NOAUTH)")
    if reply == "PONG":
        return Result(FAIL, "security.auth", "unauthenticated PING answered PONG")
    return Result(WARN, "security.auth", f"unauthenticated PING: {reply}")


def tls(environ: Mapping[str, str], default_url: str) -> Result:
    """From the service's own settings: REDIS_URL scheme and REDIS_TLS*."""
    scheme = urlsplit(environ.get("REDIS_URL", default_url)).scheme
    forced = environ.get("REDIS_TLS", "").strip().lower() in ("1", "true", "yes", "on")
    if scheme != "rediss" and not forced:
        return Result(FAIL, "security.tls", f"{scheme}:// and REDIS_TLS not true (plaintext)")
    verify = environ.get("REDIS_TLS_REJECT_UNAUTHORIZED", "true").strip().lower()
    how = "rediss://" if scheme == "rediss" else "REDIS_TLS=true"
    if verify in FALSE_WORDS:
        return Result(WARN, "security.tls", f"{how}, certificate NOT verified")
    return Result(PASS, "security.tls", f"{how}, certificate verified")


def service_auth(environ: Mapping[str, str]) -> Result:
    """From the service's own settings: who can reach it unauthenticated."""
    host = environ.get("HOST", "0.0.0.0").strip() or "0.0.0.0"
    tokens = [name for name in ("CACHE_API_TOKEN", "CACHE_API_TOKEN_FILE", "CACHE_API_TOKENS_FILE")
              if environ.get(name, "").strip()]
    if environ.get("CACHE_API_AUTH", "").strip().lower() == "none":
        return Result(FAIL, "service.auth", f"CACHE_API_AUTH=none: HOST={host} serves anyone")
    if tokens:
        return Result(PASS, "service.auth", f"tokens from {', '.join(tokens)}")
    loopback = host == "localhost" or host.startswith("127.") or host in ("::1", "[::1]")
    if loopback:
        return Result(WARN, "service.auth", f"no token, HOST={host} (this host only)")
    return Result(FAIL, "service.auth", f"no token and HOST={host}: the service refuses to "
                                        "start (set CACHE_API_TOKEN(_FILE) or CACHE_API_TOKENS_FILE)")


def backups(backup_dir: Path, now: float, max_age_h: float) -> Result:
    if not backup_dir.is_dir():
        return Result(FAIL, "backups.recent", f"{backup_dir} does not exist")
    try:
        dumps = sorted(backup_dir.glob("dump_*.rdb.gz"), key=lambda p: p.stat().st_mtime)
    except OSError as exc:
        return Result(FAIL, "backups.recent", f"cannot list {backup_dir}: {exc}")
    if not dumps:
        return Result(FAIL, "backups.recent", f"no dump_*.rdb.gz in {backup_dir}")
    newest = dumps[-1]
    age_h = (now - newest.stat().st_mtime) / 3600
    status = PASS if age_h <= max_age_h else FAIL
    return Result(status, "backups.recent",
                  f"{newest.name}, {age_h:.1f} h old (limit {max_age_h:g} h)")
