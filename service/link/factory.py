"""How to obtain a Redis client: the one factory the link calls on every
attempt.

Keeping this behind one async callable lets Sentinel or Cluster discovery
replace it later without touching the supervisor. The client is built so
that the state machine, not redis-py, owns retrying: redis-py's default retry
turns one failed command into seconds of stalling.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from service.config import Settings

ClientFactory = Callable[[], Awaitable["Redis"]]


def client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_connect_timeout": settings.redis_connect_timeout_ms / 1000,
        "socket_timeout": settings.redis_command_timeout_ms / 1000,
        "socket_keepalive": True,
        "retry": Retry(NoBackoff(), 0),
        "retry_on_timeout": False,
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
    return options


def url_factory(settings: Settings) -> ClientFactory:
    """A factory of clients for REDIS_URL. It opens no connection: the link
    connects the one that carries traffic and proves it with PING."""
    options = client_options(settings)
    url = settings.redis_url
    if settings.redis_tls and url.startswith("redis://"):
        url = "rediss://" + url[len("redis://") :]

    async def open_client() -> Redis:
        return Redis.from_url(url, **options)

    return open_client
