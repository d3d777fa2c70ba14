"""Secrets from files, re-read on every connect attempt, and TLS with a
client certificate (Redis's tls-auth-clients)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from scripts.harness.tls import make_certificates
from service import appkeys
from tests.support.waiting import eventually, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]


async def test_a_rotated_password_file_takes_effect_at_the_next_reconnect(
    app_client: StartClient, redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    redis = redis_factory(password="first-secret")
    secret = tmp_path / "redis-password"
    secret.write_text("first-secret\n")
    # The URL's own password is wrong: the file takes precedence.
    url = f"redis://:url-password@127.0.0.1:{redis.port}"
    client = await ready_client(app_client, url, REDIS_PASSWORD_FILE=str(secret))
    with redis.client() as admin:
        admin.config_set("requirepass", "second-secret")
        secret.write_text("second-secret\n")
        admin.execute_command("CLIENT", "KILL", "SKIPME", "yes")
    link = client.app[appkeys.LINK]
    await eventually(lambda: link.lifecycle.view.reconnects_total == 1, what="a reconnect")
    await link_state(client.app, "ready")
    assert (await client.put("/cache/default/k", data=b"v")).headers["X-Cache-Stored"] == "redis"
    log = " ".join(str(e.to_dict()) for e in link.lifecycle.journal.events())
    assert "secret" not in log


async def test_a_client_certificate_is_presented_when_redis_requires_one(
    app_client: StartClient, redis_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    certificates = make_certificates(tmp_path / "tls")
    redis = redis_factory("--tls-auth-clients", "yes", tls=certificates)
    tls = {"REDIS_TLS_CA_FILE": str(certificates.ca)}
    without = await app_client(redis.url, REDIS_LAZY_CONNECT="false", **tls)
    link = without.app[appkeys.LINK]
    await eventually(lambda: link.lifecycle.view.last_error is not None, what="a refusal")
    assert not link.lifecycle.is_ready()
    # The server's certificate doubles as a client one: same CA.
    client = await ready_client(app_client, redis.url, REDIS_TLS_CERT_FILE=str(certificates.cert),
                                REDIS_TLS_KEY_FILE=str(certificates.key), **tls)
    assert (await client.put("/cache/default/k", data=b"v")).headers["X-Cache-Stored"] == "redis"
