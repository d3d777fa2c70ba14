"""The one settings object, built from the environment.

Every variable of the DESIGN.md configuration table is parsed here and
nowhere else. A malformed value raises `ConfigError`, naming the variable, so
the service never starts half-configured. Secrets (the password in REDIS_URL,
the API token) are kept out of `repr()` and every displayed form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit, urlunsplit

from statemachine.backoff import BackoffPolicy

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
REDIS_SCHEMES = ("redis", "rediss")
# Namespaces that exist even when their variable is unset (DESIGN.md table).
DEFAULT_NAMESPACE_TTLS_MS: Mapping[str, int] = MappingProxyType(
    {
        "default": 300_000,
        "resume_parse": 2_592_000_000,
        "job_analysis": 86_400_000,
        "ats_score": 21_600_000,
        "ai_draft": 7_200_000,
    }
)
_NAMESPACE_VAR = re.compile(r"^CACHE_([A-Z0-9_]+)_TTL_MS$")
# CACHE_LRU_TTL_MS matches the pattern but is the memory tier's cap.
_NOT_NAMESPACES = frozenset({"LRU"})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


class ConfigError(ValueError):
    """A variable holds a value the service cannot run with."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def redact_url(url: str) -> str:
    """The URL with any password replaced, safe for logs and health output."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable url>"
    if password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{user}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class _Env:
    """Typed readers over one environment mapping; each error names its variable."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def text(self, name: str, default: str) -> str:
        return self._environ.get(name, default)

    def integer(self, name: str, default: int, *, minimum: int = 0) -> int:
        raw = self._environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
        if value < minimum:
            raise ConfigError(name, f"must be >= {minimum}, got {value}")
        return value

    def number(self, name: str, default: float, *, minimum: float) -> float:
        raw = self._environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        try:
            value = float(raw.strip())
        except ValueError:
            raise ConfigError(name, f"expected a number, got {raw!r}") from None
        if not value >= minimum:  # also rejects nan
            raise ConfigError(name, f"must be >= {minimum}, got {raw.strip()}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self._environ.get(name)
        if raw is None or raw.strip() == "":
            return default
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(name, f"expected true or false, got {raw!r}")

    def names(self) -> list[str]:
        return sorted(self._environ)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the service reads from its environment, validated."""

    host: str = "0.0.0.0"
    port: int = 3001
    redis_url: str = field(default="redis://localhost:6379", repr=False)
    redis_tls: bool = False
    redis_tls_reject_unauthorized: bool = True
    redis_tls_ca_file: str | None = None
    redis_lazy_connect: bool = True
    redis_reconnect_interval_ms: int = 5000
    redis_connect_timeout_ms: int = 10_000
    redis_command_timeout_ms: int = 250
    redis_max_retries_per_request: int = 3
    redis_health_check_interval_ms: int = 1000
    redis_backoff_base_ms: int = 1000
    redis_backoff_max_ms: int = 10_000
    redis_backoff_factor: float = 2.0
    redis_max_reconnect_attempts: int = 10
    cache_key_prefix: str = "roleready"
    namespace_ttls_ms: Mapping[str, int] = field(default_factory=lambda: DEFAULT_NAMESPACE_TTLS_MS)
    cache_lru_max_items: int = 1000
    cache_lru_max_bytes: int = 67_108_864
    cache_lru_ttl_ms: int = 600_000
    cache_max_value_bytes: int = 1_048_576
    cache_api_token: str | None = field(default=None, repr=False)
    journal_capacity: int = 1000
    shutdown_drain_ms: int = 0
    log_level: str = "INFO"

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
        env = _Env(environ)
        backoff_base = env.integer("REDIS_BACKOFF_BASE_MS", 1000, minimum=1)
        settings = cls(
            host=_host(env.text("HOST", "0.0.0.0")),
            port=_port(env.integer("PORT", 3001, minimum=1)),
            redis_url=_redis_url(env.text("REDIS_URL", "redis://localhost:6379")),
            redis_tls=env.flag("REDIS_TLS", False),
            redis_tls_reject_unauthorized=env.flag("REDIS_TLS_REJECT_UNAUTHORIZED", True),
            redis_tls_ca_file=env.text("REDIS_TLS_CA_FILE", "") or None,
            redis_lazy_connect=env.flag("REDIS_LAZY_CONNECT", True),
            redis_reconnect_interval_ms=env.integer(
                "REDIS_RECONNECT_INTERVAL_MS", 5000, minimum=1
            ),
            redis_connect_timeout_ms=env.integer("REDIS_CONNECT_TIMEOUT_MS", 10_000, minimum=1),
            redis_command_timeout_ms=env.integer("REDIS_COMMAND_TIMEOUT_MS", 250, minimum=1),
            redis_max_retries_per_request=env.integer("REDIS_MAX_RETRIES_PER_REQUEST", 3),
            redis_health_check_interval_ms=env.integer(
                "REDIS_HEALTH_CHECK_INTERVAL_MS", 1000, minimum=1
            ),
            redis_backoff_base_ms=backoff_base,
            redis_backoff_max_ms=env.integer(
                "REDIS_BACKOFF_MAX_MS", max(10_000, backoff_base), minimum=backoff_base
            ),
            redis_backoff_factor=env.number("REDIS_BACKOFF_FACTOR", 2.0, minimum=1.0),
            redis_max_reconnect_attempts=env.integer(
                "REDIS_MAX_RECONNECT_ATTEMPTS", 10, minimum=1
            ),
            cache_key_prefix=_key_prefix(env.text("CACHE_KEY_PREFIX", "roleready")),
            namespace_ttls_ms=_namespaces(env),
            cache_lru_max_items=env.integer("CACHE_LRU_MAX_ITEMS", 1000),
            cache_lru_max_bytes=env.integer("CACHE_LRU_MAX_BYTES", 67_108_864),
            cache_lru_ttl_ms=env.integer("CACHE_LRU_TTL_MS", 600_000, minimum=1),
            cache_max_value_bytes=env.integer("CACHE_MAX_VALUE_BYTES", 1_048_576, minimum=1),
            cache_api_token=env.text("CACHE_API_TOKEN", "") or None,
            journal_capacity=env.integer("JOURNAL_CAPACITY", 1000, minimum=1),
            shutdown_drain_ms=env.integer("SHUTDOWN_DRAIN_MS", 0),
            log_level=_log_level(env.text("LOG_LEVEL", "INFO")),
        )
        return settings


def _host(value: str) -> str:
    if not value.strip():
        raise ConfigError("HOST", "must not be empty")
    return value.strip()


def _port(value: int) -> int:
    if value > 65535:
        raise ConfigError("PORT", f"must be <= 65535, got {value}")
    return value


def _redis_url(value: str) -> str:
    value = value.strip()
    if value == "":
        return ""  # memory-only mode
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ConfigError("REDIS_URL", "is not a valid URL (bad port?)") from None
    if parts.scheme not in REDIS_SCHEMES:
        scheme = parts.scheme or "(none)"
        raise ConfigError(
            "REDIS_URL", f"unknown scheme {scheme!r}; use redis:// or rediss://"
        )
    if not parts.hostname:
        raise ConfigError("REDIS_URL", "has no host")
    if port == 0:
        raise ConfigError("REDIS_URL", "port must be 1-65535")
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ConfigError("REDIS_URL", "the path must be a database number")
    return value


def _key_prefix(value: str) -> str:
    if not value or any(ch.isspace() for ch in value):
        raise ConfigError("CACHE_KEY_PREFIX", "must be non-empty and without spaces")
    return value


def _namespaces(env: _Env) -> Mapping[str, int]:
    ttls = dict(DEFAULT_NAMESPACE_TTLS_MS)
    for name in env.names():
        match = _NAMESPACE_VAR.match(name)
        if match is None or match.group(1) in _NOT_NAMESPACES:
            continue
        namespace = match.group(1).lower()
        ttls[namespace] = env.integer(name, ttls.get(namespace, 0), minimum=1)
    return MappingProxyType(ttls)


def _log_level(value: str) -> str:
    level = value.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError("LOG_LEVEL", f"expected one of {', '.join(LOG_LEVELS)}, got {value!r}")
    return level
