"""One set of behaviour tests for every tier: memory, Redis, and the two together.

Each speaks the vocabulary of service/cache/tier.py: get / put / delete by
(namespace, key), TTLs in milliseconds. The memory tier answers
synchronously; `call` awaits whatever needs awaiting, so the same test
body runs against all three.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from scripts.harness.redis_server import RedisServers
from service.cache.memory import MemoryTier
from service.cache.redis_tier import RedisTier
from service.cache.stats import CacheStats
from service.cache.two_tier import TwoTierCache
from service.clock import SystemClock
from service.link.driver import RedisLink
from service.link.factory import url_factory
from statemachine import ConnectionLifecycle, FakeClock
from tests.conftest import make_settings
from tests.support.waiting import eventually

NS = "default"
MIB = 1 << 20


async def call(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


@dataclass
class Subject:
    tier: Any
    # Lets `seconds` pass for the tier's expiry (a fake clock jumps; Redis waits).
    elapse: Callable[[float], Awaitable[None]]


async def _ready_link(servers: RedisServers) -> RedisLink:
    settings = make_settings(servers.start().url, REDIS_LAZY_CONNECT="false")
    clock = SystemClock()
    link = RedisLink(
        ConnectionLifecycle(clock, settings.backoff_policy), url_factory(settings), clock=clock,
        lazy=False, health_check_interval_s=1.0, command_timeout_s=1.0, connect_timeout_s=1.0,
    )
    await link.start()
    await eventually(link.lifecycle.is_ready, what="a ready link")
    return link


@pytest.fixture(params=[
    "memory",
    pytest.param("redis", marks=pytest.mark.redis),
    pytest.param("two_tier", marks=pytest.mark.redis),
])
async def subject(request: pytest.FixtureRequest, tmp_path: Any) -> AsyncIterator[Subject]:
    clock = FakeClock()
    memory = MemoryTier(100, 64 * MIB, 600.0, clock.monotonic)

    async def jump(seconds: float) -> None:
        clock.advance(seconds)

    if request.param == "memory":
        yield Subject(memory, jump)
        return
    with RedisServers(tmp_path / "redis") as servers:
        link = await _ready_link(servers)
        redis = RedisTier(link, "roleready", 0, CacheStats(), clock.wall)

        async def wait(seconds: float) -> None:
            clock.advance(seconds)
            await asyncio.sleep(seconds + 0.05)

        if request.param == "redis":
            yield Subject(redis, wait)
        else:
            ttls = {NS: 600_000, "other": 600_000}
            yield Subject(TwoTierCache(memory, redis, ttls, CacheStats(), wall=clock.wall), wait)
        await link.close()


async def test_get_answers_what_put_stored(subject: Subject) -> None:
    value = bytes(range(256))  # not text: bytes round-trip unchanged
    assert await call(subject.tier.put(NS, "k", value, "application/x-raw", 60_000)) is True
    found = await call(subject.tier.get(NS, "k"))
    assert (found.value, found.content_type) == (value, "application/x-raw")


async def test_an_unknown_key_is_none(subject: Subject) -> None:
    assert await call(subject.tier.get(NS, "never-set")) is None


async def test_put_replaces_the_value_and_its_type(subject: Subject) -> None:
    await call(subject.tier.put(NS, "k", b"1", "text/plain", 60_000))
    await call(subject.tier.put(NS, "k", b'{"a":2}', "application/json", 60_000))
    found = await call(subject.tier.get(NS, "k"))
    assert (found.value, found.content_type) == (b'{"a":2}', "application/json")


async def test_delete_removes_and_is_idempotent(subject: Subject) -> None:
    await call(subject.tier.put(NS, "k", b"v", "text/plain", 60_000))
    assert await call(subject.tier.delete(NS, "k")) is True
    assert await call(subject.tier.get(NS, "k")) is None
    assert await call(subject.tier.delete(NS, "k")) is True


async def test_namespaces_keep_their_keys_apart(subject: Subject) -> None:
    await call(subject.tier.put(NS, "k", b"default", "text/plain", 60_000))
    await call(subject.tier.put("other", "k", b"other", "text/plain", 60_000))
    assert (await call(subject.tier.get(NS, "k"))).value == b"default"
    assert (await call(subject.tier.get("other", "k"))).value == b"other"


async def test_a_value_expires_after_its_ttl(subject: Subject) -> None:
    await call(subject.tier.put(NS, "k", b"v", "text/plain", 100))
    await subject.elapse(0.1)
    assert await call(subject.tier.get(NS, "k")) is None
