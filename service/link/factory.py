"""How to obtain a Redis client: the one factory the link calls on every
attempt.

Keeping this behind one async callable lets Sentinel or Cluster discovery
replace it later without touching the supervisor. The client is built so
that the state machine, not redis-py, owns retrying: redis-py's default retry
turns one failed command into seconds of stalling.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.connection import ConnectionPool, parse_url
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.retry import Retry

from service.config import Settings
from service.link.discovery import newest_master
from service.link.switches import MasterSwitches

ClientFactory = Callable[[], Awaitable["Redis"]]


def client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.redis_connect_timeout_ms / 1000,
        "socket_timeout": settings.redis_command_timeout_ms / 1000,
        "socket_keepalive": True,
        "retry": Retry(NoBackoff(), 0),
        "health_check_interval": 0,
        "decode_responses": False,
    }
    tls = settings.redis_tls or settings.redis_url.startswith("rediss://")
    if tls:
        # TLS itself is chosen by the rediss:// scheme (see url_factory).
        if not settings.redis_tls_reject_unauthorized:
            options["ssl_cert_reqs"] = "none"
            options["ssl_check_hostname"] = False
        if settings.redis_tls_ca_file:
            options["ssl_ca_certs"] = settings.redis_tls_ca_file
        if settings.redis_tls_cert_file:
            options["ssl_certfile"] = settings.redis_tls_cert_file
            options["ssl_keyfile"] = settings.redis_tls_key_file
    return options


def secret_from(path: str | None, fallback: str | None) -> str | None:
    """The secret in `path` (surrounding whitespace dropped), read now, so a
    rotated file takes effect at the next attempt; `fallback` without one."""
    if path is None:
        return fallback
    with open(path, encoding="utf-8") as source:
        return source.read().strip()


def client_factory(settings: Settings) -> ClientFactory:
    """The factory the settings ask for: Sentinel discovery or REDIS_URL."""
    return sentinel_factory(settings) if settings.redis_sentinels else url_factory(settings)


def _tls_url(settings: Settings) -> str:
    url = settings.redis_url
    if settings.redis_tls and url.startswith("redis://"):
        url = "rediss://" + url[len("redis://") :]
    return url


def sentinel_factory(settings: Settings) -> ClientFactory:
    """A factory that asks the sentinels for the current master on every
    attempt (redis-py's Sentinel pool does not re-ask on its own retries,
    redis/redis-py#3874): a fresh Sentinel each time, closed once it answered;
    the master of their newest configuration (service.link.discovery).

    From REDIS_URL only the credentials, the database and TLS (rediss:// or
    REDIS_TLS) are used; its host and port are ignored. The sentinels get
    REDIS_SENTINEL_PASSWORD and the same TLS options."""
    options = client_options(settings)
    url_parts = parse_url(_tls_url(settings))
    tls = "connection_class" in url_parts  # parse_url's way of saying rediss://
    data_node: dict[str, Any] = {
        name: url_parts[name] for name in ("username", "password", "db") if name in url_parts
    }
    if tls:
        data_node["ssl"] = True
    addresses = list(settings.redis_sentinels)
    master = settings.redis_sentinel_master
    assert master is not None  # Settings refuses REDIS_SENTINELS without it

    async def open_client() -> Redis:
        sentinel = Sentinel(addresses, sentinel_kwargs=_sentinel_options(settings, options))
        try:
            host, port = await newest_master(sentinel, master)
        finally:
            await sentinel.aclose()
        password = secret_from(settings.redis_password_file, data_node.get("password"))
        return Redis(host=host, port=port, **{**data_node, "password": password}, **options)

    return open_client


def _sentinel_options(settings: Settings, options: dict[str, Any]) -> dict[str, Any]:
    """How to talk to the sentinels: their password, the data nodes' TLS
    and timeouts, and no retrying of redis-py's own (with its default, a
    list of dead sentinels took seconds of retries and ended the attempt as
    a bare TimeoutError instead of "No master found")."""
    chosen: dict[str, Any] = {
        name: value for name, value in options.items()
        if name.startswith(("ssl_", "socket_")) or name == "retry"
    }
    if "connection_class" in parse_url(_tls_url(settings)):
        chosen["ssl"] = True
    password = secret_from(settings.redis_sentinel_password_file,
                           settings.redis_sentinel_password)
    if password:
        chosen["password"] = password
    return chosen


def master_switches(settings: Settings) -> MasterSwitches | None:
    """The `+switch-master` listener of Sentinel mode; None otherwise."""
    if not settings.redis_sentinels or settings.redis_sentinel_master is None:
        return None
    options = _sentinel_options(settings, client_options(settings))
    options["socket_timeout"] = None  # a listener waits for as long as it takes
    return MasterSwitches(settings.redis_sentinels, settings.redis_sentinel_master, options)


def node_factory(settings: Settings, host: str, port: int) -> ClientFactory:
    """A factory of clients for one cluster node: REDIS_URL's credentials
    and TLS (its host, port and database are not used: a cluster has only
    database 0)."""
    return _pool_factory(settings, {**parse_url(_tls_url(settings)), "host": host,
                                    "port": port, "db": 0})


# A refresh asks the known nodes one after another: a node whose machine is
# gone (packets dropped) must not use up the whole refresh's time.
SLOT_MAP_CONNECT_TIMEOUT_S = 2.0


def cluster_options(settings: Settings) -> dict[str, Any]:
    """How the slot map's RedisCluster reaches the nodes: as `node_factory`
    does, the password file read now, each node given at most
    SLOT_MAP_CONNECT_TIMEOUT_S to accept the connection."""
    parts = parse_url(_tls_url(settings))
    options = client_options(settings)
    options["socket_connect_timeout"] = min(
        options["socket_connect_timeout"], SLOT_MAP_CONNECT_TIMEOUT_S
    )
    if parts.get("username"):
        options["username"] = parts["username"]
    password = secret_from(settings.redis_password_file, parts.get("password"))
    if password:
        options["password"] = password
    if "connection_class" in parts:  # parse_url's way of saying rediss://
        options["ssl"] = True
    return options


def url_factory(settings: Settings) -> ClientFactory:
    """A factory of clients for REDIS_URL. It opens no connection: the link
    connects the one that carries traffic and proves it with PING."""
    return _pool_factory(settings, parse_url(_tls_url(settings)))


def _pool_factory(settings: Settings, parts: Mapping[str, Any]) -> ClientFactory:
    options = client_options(settings)

    async def open_client() -> Redis:
        # A pool built as from_url builds it, but with the password file, if
        # any, taking precedence over the URL's (from_url lets the URL win).
        password = secret_from(settings.redis_password_file, parts.get("password"))
        return Redis(connection_pool=ConnectionPool(**{**parts, **options, "password": password}))

    return open_client
