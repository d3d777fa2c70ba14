"""The one settings object: its fields are the declarations of the variables.

Each field's default is a ``declared()`` call naming the variable, its kind
(type and bounds), its default and its help, so nothing about a setting is
written twice. ``Settings.from_env`` reads every declared variable, the
cross-field bounds and the ``CACHE_<NAME>_TTL_MS`` namespaces; the first
malformed value raises ``ConfigError`` naming its variable, so the service
never starts half-configured.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, TypeVar

from service.config.callers import AUTH_NONE, CallersFile
from service.config.declaration import (
    DEFAULT_NAMESPACE_TTLS_MS,
    NAMESPACE_VARIABLE,
    REFRESH_AHEAD_VARIABLE,
    STALE_VARIABLE,
    Setting,
    declared,
    namespace_setting,
    refresh_ahead_setting,
    setting_of,
    stale_setting,
)
from service.config.values import (
    Choice,
    ConfigError,
    Flag,
    Host,
    HostPorts,
    Integer,
    KeyPrefix,
    Number,
    OptionalText,
    RedisUrl,
    SecretFile,
    StateDirectory,
    WorkerCount,
    redact_url,
)
from statemachine.backoff import BackoffPolicy

T = TypeVar("T")

__all__ = ["LOG_LEVELS", "SETTINGS", "VARIABLES", "Settings", "namespace_of"]

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
EVENT_LOOPS = ("uvloop", "asyncio")
_WHOLE = Integer(minimum=0)
_POSITIVE = Integer(minimum=1)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the service reads from its environment, validated."""

    host: str = declared("HOST", Host(), "0.0.0.0", "HTTP listen address")
    port: int = declared("PORT", Integer(1, 65535), 3001, "HTTP listen port")
    redis_url: str = declared(
        "REDIS_URL", RedisUrl(), "redis://localhost:6379",
        "redis:// or rediss:// (TLS); user:password in the URL is honoured and "
        "never logged; empty = memory only",
        secret=True,
    )
    redis_tls: bool = declared("REDIS_TLS", Flag(), False, "force TLS even for redis://")
    redis_tls_reject_unauthorized: bool = declared(
        "REDIS_TLS_REJECT_UNAUTHORIZED", Flag(), True, "verify the server certificate"
    )
    redis_tls_ca_file: str | None = declared(
        "REDIS_TLS_CA_FILE", OptionalText(), None, "CA bundle for rediss://",
        shown_default="(system)",
    )
    redis_tls_cert_file: str | None = declared(
        "REDIS_TLS_CERT_FILE", OptionalText(), None,
        "client certificate for TLS (Redis's tls-auth-clients), data nodes and sentinels",
        shown_default="(none)",
    )
    redis_tls_key_file: str | None = declared(
        "REDIS_TLS_KEY_FILE", OptionalText(), None, "the client certificate's key",
        shown_default="(none)",
    )
    redis_password_file: str | None = declared(
        "REDIS_PASSWORD_FILE", OptionalText(), None,
        "file holding the Redis password (overrides REDIS_URL's); re-read on every "
        "connect attempt, so a rotated password takes effect at the next reconnect",
        shown_default="(none)",
    )
    redis_sentinel_password_file: str | None = declared(
        "REDIS_SENTINEL_PASSWORD_FILE", OptionalText(), None,
        "file holding the sentinels' password (overrides REDIS_SENTINEL_PASSWORD); "
        "re-read on every connect attempt",
        shown_default="(none)",
    )
    redis_sentinels: tuple[tuple[str, int], ...] = declared(
        "REDIS_SENTINELS", HostPorts(), (),
        "Sentinel mode: the sentinels asked for the master on every connect attempt "
        "(REDIS_URL then gives only credentials, database and TLS)",
        shown_default="(none)",
    )
    redis_sentinel_master: str | None = declared(
        "REDIS_SENTINEL_MASTER", OptionalText(), None,
        "the master's name at the sentinels (required with REDIS_SENTINELS)",
        shown_default="(none)",
    )
    redis_sentinel_password: str | None = declared(
        "REDIS_SENTINEL_PASSWORD", OptionalText(), None, "the sentinels' own password",
        shown_default="(none)", secret=True,
    )
    redis_cluster_nodes: tuple[tuple[str, int], ...] = declared(
        "REDIS_CLUSTER_NODES", HostPorts(), (),
        "Cluster mode: seed nodes the slot map is learnt from (REDIS_URL then gives "
        "only credentials and TLS; the database is 0)",
        shown_default="(none)",
    )
    redis_replica_confirm: str = declared(
        "REDIS_REPLICA_CONFIRM", Choice(("auto", "off")), "auto",
        "auto: a write the master acknowledged is held until a replica confirms it and "
        "replayed at any reconnect before that (Sentinel and Cluster always; REDIS_URL "
        "only while its master has replicas); off: settled on the master's reply",
    )
    redis_lazy_connect: bool = declared(
        "REDIS_LAZY_CONNECT", Flag(), True, "connect on first use instead of at start-up"
    )
    redis_reconnect_interval_ms: int = declared(
        "REDIS_RECONNECT_INTERVAL_MS", _POSITIVE, 5000,
        "probe period after the machine has given up (state `failed`)",
    )
    redis_connect_timeout_ms: int = declared(
        "REDIS_CONNECT_TIMEOUT_MS", _POSITIVE, 10_000, "TCP/TLS connect timeout"
    )
    redis_command_timeout_ms: int = declared(
        "REDIS_COMMAND_TIMEOUT_MS", _POSITIVE, 250,
        "per-command budget; a hung Redis costs a request at most this",
    )
    redis_probe_share_ms: int = declared(
        "REDIS_PROBE_SHARE_MS", Integer(minimum=0), 1000,
        "how long one PING + INFO probe's result serves /metrics and /health/detailed "
        "(0: every request probes)",
    )
    redis_max_retries_per_request: int = declared(
        "REDIS_MAX_RETRIES_PER_REQUEST", _WHOLE, 3,
        "retries of one cache operation while connected",
    )
    redis_health_check_interval_ms: int = declared(
        "REDIS_HEALTH_CHECK_INTERVAL_MS", _POSITIVE, 1000,
        "PING period on an idle ready link, so a dead or hung server is noticed "
        "without traffic",
    )
    redis_backoff_base_ms: int = declared(
        "REDIS_BACKOFF_BASE_MS", _POSITIVE, 1000,
        "first reconnect delay; each next one is REDIS_BACKOFF_FACTOR times longer",
    )
    redis_backoff_max_ms: int = declared(
        "REDIS_BACKOFF_MAX_MS", _POSITIVE, 10_000,
        "cap on the reconnect delay (the defaults give 1, 2, 4, 8, then 10 s)",
        at_least="REDIS_BACKOFF_BASE_MS",
    )
    redis_backoff_factor: float = declared(
        "REDIS_BACKOFF_FACTOR", Number(minimum=1.0), 2.0,
        "growth of the reconnect delay after each failed attempt",
    )
    redis_max_reconnect_attempts: int = declared(
        "REDIS_MAX_RECONNECT_ATTEMPTS", _POSITIVE, 10,
        "failed reconnect attempts before `failed` (then probes every "
        "REDIS_RECONNECT_INTERVAL_MS)",
    )
    cache_key_prefix: str = declared(
        "CACHE_KEY_PREFIX", KeyPrefix(), "roleready",
        "Redis key = `{prefix}:{namespace}:{key}`",
    )
    # Not one variable: CACHE_<NAME>_TTL_MS (declaration.namespace_setting).
    namespace_ttls_ms: Mapping[str, int] = field(default_factory=lambda: DEFAULT_NAMESPACE_TTLS_MS)
    # CACHE_<NAME>_STALE_MS and CACHE_<NAME>_REFRESH_AHEAD, for the namespaces
    # that set them (absent: 0, off).
    namespace_stale_ms: Mapping[str, int] = field(default_factory=dict)
    namespace_refresh_ahead: Mapping[str, float] = field(default_factory=dict)
    cache_lru_max_items: int = declared(
        "CACHE_LRU_MAX_ITEMS", _WHOLE, 1000, "memory tier capacity (entries)"
    )
    cache_lru_max_bytes: int = declared(
        "CACHE_LRU_MAX_BYTES", _WHOLE, 64 * 1024 * 1024,
        "memory tier byte budget, counting bodies and metadata",
    )
    cache_lru_ttl_ms: int = declared(
        "CACHE_LRU_TTL_MS", _POSITIVE, 600_000, "memory tier TTL cap"
    )
    cache_outage_replay: str = declared(
        "CACHE_OUTAGE_REPLAY", Choice(("delete", "write")), "delete",
        "at reconnect, keys PUT while Redis was unreachable are deleted from Redis "
        "(safe with several writers) or written; DELETEs are always replayed",
    )
    cache_outbox_max_keys: int = declared(
        "CACHE_OUTBOX_MAX_KEYS", _POSITIVE, 10_000,
        "keys remembered for replay; beyond it, every key of the namespaces "
        "written during the outage is deleted at reconnect",
    )
    cache_state_dir: str | None = declared(
        "CACHE_STATE_DIR", StateDirectory(), None,
        "directory where outage writes are kept (appended and fsync'd before their "
        "answer) so that a restart or a kill does not lose them; the next start "
        "applies them; empty = none: outage writes do not survive the process",
        shown_default="(none)",
    )
    cache_tags_max: int = declared(
        "CACHE_TAGS_MAX", Integer(1, 255), 16,
        "tags one entry may carry (`X-Cache-Tags`), and one `_invalidate` may name",
    )
    cache_tag_max_chars: int = declared(
        "CACHE_TAG_MAX_CHARS", Integer(1, 255), 128,
        "characters of one tag (letters, digits and . _ ~ : -)",
    )
    cache_lease_duration_ms: int = declared(
        "CACHE_LEASE_DURATION_MS", _POSITIVE, 10_000,
        "how long a lease (`?lease=1`) lasts before a waiter may take it over",
    )
    cache_lease_wait_ms: int = declared(
        "CACHE_LEASE_WAIT_MS", Integer(minimum=0), 5000,
        "how long a `?lease=1` miss waits for the holder's value (`wait_ms` default)",
    )
    cache_lease_wait_max_ms: int = declared(
        "CACHE_LEASE_WAIT_MAX_MS", _POSITIVE, 30_000,
        "the largest `wait_ms` accepted (larger: 400)", at_least="CACHE_LEASE_WAIT_MS",
    )
    cache_lease_max_waiters: int = declared(
        "CACHE_LEASE_MAX_WAITERS", _POSITIVE, 512,
        "`?lease=1` misses waiting at once in this process, outside HTTP_MAX_INFLIGHT "
        "(more answer 404 `pending` at once)",
    )
    cache_lease_max_waiters_per_key: int = declared(
        "CACHE_LEASE_MAX_WAITERS_PER_KEY", _POSITIVE, 128,
        "of those, waiting on one key",
    )
    cache_max_value_bytes: int = declared(
        "CACHE_MAX_VALUE_BYTES", _POSITIVE, 1_048_576, "larger PUT bodies get 413"
    )
    cache_batch_max_keys: int = declared(
        "CACHE_BATCH_MAX_KEYS", _POSITIVE, 1000,
        "most keys in one `_mget`, `_mset` or `_mdelete` (more: 400)",
    )
    cache_batch_max_bytes: int = declared(
        "CACHE_BATCH_MAX_BYTES", _POSITIVE, 16_777_216,
        "larger `_mget`/`_mset`/`_mdelete` bodies get 413",
    )
    cache_batch_max_answer_bytes: int = declared(
        "CACHE_BATCH_MAX_ANSWER_BYTES", _POSITIVE, 8_388_608,
        "bytes of values one `_mget` answer carries; the keys beyond it are listed "
        "in `unread` (an answer carries at least one value)",
    )
    cache_inflight_max_bytes: int = declared(
        "CACHE_INFLIGHT_MAX_BYTES", _POSITIVE, 134_217_728,
        "request and answer bytes held at once by this process (batch bodies and "
        "answers, PUT bodies from their declared length on, answers of values over "
        "64 KiB while written); a request that would pass it gets 503 `overloaded`",
        at_least="CACHE_BATCH_MAX_BYTES",
    )
    cache_api_token: str | None = declared(
        "CACHE_API_TOKEN", OptionalText(), None,
        "one token with every right: when set, /cache/* and the observing routes "
        "require `Authorization: Bearer <token>`",
        shown_default="(none)", secret=True,
    )
    cache_api_token_file: str | None = declared(
        "CACHE_API_TOKEN_FILE", SecretFile(), None,
        "file holding that token instead (not with CACHE_API_TOKEN); re-read when it "
        "changes (checked at most once a second) or on SIGHUP",
        shown_default="(none)",
    )
    cache_api_token_overlap_ms: int = declared(
        "CACHE_API_TOKEN_OVERLAP_MS", _WHOLE, 60_000,
        "after CACHE_API_TOKEN_FILE changes, how long the previous token is still accepted",
    )
    cache_api_tokens_file: str | None = declared(
        "CACHE_API_TOKENS_FILE", CallersFile(), None,
        "TOML file of callers, each with the SHA-256 of its token, its namespaces and "
        "rights (read, write, purge, observe); re-read like CACHE_API_TOKEN_FILE",
        shown_default="(none)",
    )
    cache_api_auth: str = declared(
        "CACHE_API_AUTH", Choice(("token", AUTH_NONE)), "token",
        "`none`: serve a non-loopback HOST without any token, on purpose (otherwise "
        "start-up stops)",
    )
    journal_capacity: int = declared(
        "JOURNAL_CAPACITY", _POSITIVE, 1000, "connection events kept for /health/events"
    )
    shutdown_drain_ms: int = declared(
        "SHUTDOWN_DRAIN_MS", _WHOLE, 5000,
        "after SIGTERM, how long readiness answers 503 before the listener closes "
        "(long enough for a load balancer's readiness probes to take the instance out)",
    )
    shutdown_timeout_ms: int = declared(
        "SHUTDOWN_TIMEOUT_MS", _WHOLE, 10_000,
        "after the listener closes, how long requests in progress may take to finish",
    )
    workers: int = declared(
        "WORKERS", WorkerCount(), 1,
        "worker processes serving the one port (gunicorn); `auto` = the CPUs this "
        "process may use; each worker has its own memory tier (docs/design.md: Workers)",
    )
    event_loop: str = declared(
        "EVENT_LOOP", Choice(EVENT_LOOPS), "uvloop",
        "`uvloop`, or `asyncio` for the standard library's loop (uvloop falls back "
        "to it, with a warning, where it is not installed)",
    )
    worker_tmp_dir: str | None = declared(
        "WORKER_TMP_DIR", OptionalText(), None,
        "with WORKERS > 1: a writable directory for gunicorn's heartbeat files and "
        "the workers' sockets (on a read-only root: an emptyDir or /dev/shm)",
        shown_default="/dev/shm if writable, else the system temp dir",
    )
    log_level: str = declared(
        "LOG_LEVEL", Choice(LOG_LEVELS), "INFO", "logging threshold"
    )
    log_format: str = declared(
        "LOG_FORMAT", Choice(LOG_FORMATS), "text",
        "`text` lines, or `json`: one object per line with the request id and the "
        "link's state, error kind and suppressed count as fields",
    )
    access_log: bool = declared(
        "ACCESS_LOG", Flag(), False, "log one line per request (in LOG_FORMAT)"
    )
    http_body_timeout_ms: int = declared(
        "HTTP_BODY_TIMEOUT_MS", _POSITIVE, 10_000,
        "a request body not received in full by then: 408, connection closed, nothing stored",
    )
    http_max_inflight: int = declared(
        "HTTP_MAX_INFLIGHT", _POSITIVE, 1024,
        "cache requests in progress beyond which /cache/ answers 503 `overloaded` "
        "(/health*, /metrics exempt)",
    )
    http_write_timeout_ms: int = declared(
        "HTTP_WRITE_TIMEOUT_MS", _POSITIVE, 30_000,
        "how long a large answer (a batch's, or a value over 64 KiB) may wait for "
        "its reader; then the connection is dropped",
    )
    http_keepalive_timeout_ms: int = declared(
        "HTTP_KEEPALIVE_TIMEOUT_MS", _POSITIVE, 75_000,
        "an idle connection, or one whose request headers are unfinished, is closed "
        "this long after it opened or after its last answer (keep it above the load "
        "balancer's idle timeout)",
    )

    @property
    def redis_enabled(self) -> bool:
        return self.redis_url != ""

    @property
    def redis_url_redacted(self) -> str:
        return redact_url(self.redis_url)

    @property
    def backoff_policy(self) -> BackoffPolicy:
        return BackoffPolicy(
            base_s=self.redis_backoff_base_ms / 1000,
            factor=self.redis_backoff_factor,
            cap_s=self.redis_backoff_max_ms / 1000,
            max_attempts=self.redis_max_reconnect_attempts,
            probe_interval_s=self.redis_reconnect_interval_ms / 1000,
        )

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in self.__dataclass_fields__
            if self.__dataclass_fields__[name].repr
        )
        token = "***" if self.cache_api_token else None
        return (
            f"Settings(redis_url={self.redis_url_redacted!r}, "
            f"cache_api_token={token!r}, {shown})"
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        values: dict[str, Any] = {s.attribute: s.read(environ) for s in SETTINGS}
        _check_lower_bounds(values, environ)
        if values["redis_sentinels"] and not values["redis_sentinel_master"]:
            raise ConfigError("REDIS_SENTINEL_MASTER", "is required with REDIS_SENTINELS")
        if values["redis_sentinels"] and values["redis_cluster_nodes"]:
            raise ConfigError(
                "REDIS_CLUSTER_NODES", "cannot be combined with REDIS_SENTINELS: choose one mode"
            )
        if values["cache_api_token"] and values["cache_api_token_file"]:
            raise ConfigError("CACHE_API_TOKEN_FILE", "cannot be set together with CACHE_API_TOKEN")
        ttls = _namespace_ttls(environ)
        return cls(
            namespace_ttls_ms=ttls,
            namespace_stale_ms=_namespace_policy(environ, ttls, STALE_VARIABLE, stale_setting),
            namespace_refresh_ahead=_namespace_policy(
                environ, ttls, REFRESH_AHEAD_VARIABLE, refresh_ahead_setting),
            **values,
        )


# Every declared variable, in the order of the Settings fields.
SETTINGS: tuple[Setting[Any], ...] = tuple(
    s for s in (setting_of(f.metadata) for f in fields(Settings)) if s is not None
)
VARIABLES = frozenset(s.variable for s in SETTINGS)


def namespace_of(variable: str) -> str | None:
    """The namespace a CACHE_<NAME>_TTL_MS variable declares, else None.

    Declared settings that fit the pattern (CACHE_LRU_TTL_MS) are not
    namespaces.
    """
    match = NAMESPACE_VARIABLE.match(variable)
    if match is None or variable in VARIABLES:
        return None
    return match.group(1).lower()


def _check_lower_bounds(values: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    for setting in SETTINGS:
        if setting.at_least is None:
            continue
        floor = values[setting.at_least.lower()]
        value = values[setting.attribute]
        if value < floor:
            unset = "" if setting.variable in environ else " (its default)"
            raise ConfigError(
                setting.variable,
                f"must be >= {setting.at_least} ({floor}), got {value}{unset}",
            )


def _namespace_ttls(environ: Mapping[str, str]) -> Mapping[str, int]:
    ttls = dict(DEFAULT_NAMESPACE_TTLS_MS)
    for variable in sorted(environ):
        namespace = namespace_of(variable)
        if namespace is not None:
            ttls[namespace] = namespace_setting(namespace).read(environ)
    return MappingProxyType(ttls)


def _namespace_policy(
    environ: Mapping[str, str], ttls: Mapping[str, int], pattern: re.Pattern[str],
    setting: Callable[[str], Setting[T]],
) -> Mapping[str, T]:
    """Each CACHE_<NAME>_<POLICY> set, by namespace; one naming no namespace
    stops start-up (a policy cannot declare one, and a typo would be lost)."""
    found: dict[str, T] = {}
    for variable in sorted(environ):
        match = pattern.match(variable)
        if match is None:
            continue
        namespace = match.group(1).lower()
        if namespace not in ttls:
            raise ConfigError(variable, f"names no namespace: {namespace!r} has no "
                                        f"CACHE_{match.group(1)}_TTL_MS")
        found[namespace] = setting(namespace).read(environ)
    return MappingProxyType(found)
