"""Automatic pipelining against a real Redis: coalescing, order, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.link.pipeline import AutoPipeline
from tests.support.waiting import ready_client


async def test_concurrent_calls_share_one_round_trip_in_order(redis_server: RedisServer) -> None:
    client = Redis(port=redis_server.port)
    pipeline = AutoPipeline(client, timeout_s=1.0)
    await pipeline.call("PING")  # open the pipeline's own connection
    writes = [pipeline.call("SET", f"k{i}", i) for i in range(200)]
    reads = [pipeline.call("GET", f"k{i}") for i in range(200)]
    assert await asyncio.gather(*writes) == [b"OK"] * 200
    assert await asyncio.gather(*reads) == [str(i).encode() for i in range(200)]
    # The PING alone, then all 400 queued in one loop turn: two writes in all.
    assert (pipeline.batches_sent, pipeline.commands_sent) == (2, 401)
    clients = await client.client_list()
    # The pipeline used one connection besides this test's own.
    assert len(clients) == 2
    await pipeline.close()
    await client.aclose()


async def test_an_error_reply_fails_only_its_own_command(redis_server: RedisServer) -> None:
    client = Redis(port=redis_server.port)
    pipeline = AutoPipeline(client, timeout_s=1.0)
    await client.set("text", "abc")
    first = pipeline.call("SET", "n", 1)
    bad = pipeline.call("INCR", "text")
    after = pipeline.call("INCR", "n")
    assert await first == b"OK"
    with pytest.raises(ResponseError):
        await bad
    assert await after == 2
    await pipeline.close()
    await client.aclose()


async def test_a_hung_server_fails_the_batch_within_the_timeout(redis_server: RedisServer) -> None:
    client = Redis(port=redis_server.port, socket_timeout=5)
    pipeline = AutoPipeline(client, timeout_s=0.2)
    await pipeline.call("PING")
    redis_server.pause()
    try:
        calls = [pipeline.call("GET", "k") for _ in range(5)]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert all(isinstance(r, TimeoutError) for r in results)
    finally:
        redis_server.resume()
    # The connection whose replies were lost is never reused, nor replaced:
    # the link builds a new pipeline (tracking lives with the connection).
    # Later commands fail at once, as the batch that lost it did.
    with pytest.raises(TimeoutError):
        await pipeline.call("PING")
    await pipeline.close()
    await client.aclose()


async def test_a_cancelled_caller_does_not_desynchronise_replies(redis_server: RedisServer) -> None:
    client = Redis(port=redis_server.port)
    pipeline = AutoPipeline(client, timeout_s=1.0)
    await client.set("a", "1")
    await client.set("b", "2")
    abandoned = pipeline.call("GET", "a")
    kept = pipeline.call("GET", "b")
    abandoned.cancel()
    assert await kept == b"2"
    assert await pipeline.call("GET", "a") == b"1"
    await pipeline.close()
    await client.aclose()


async def test_concurrent_requests_to_the_service_share_round_trips(
    app_client: Callable[..., Awaitable[TestClient]], redis_server: RedisServer
) -> None:
    service = await ready_client(app_client, redis_server.url, CACHE_LRU_MAX_ITEMS="0")
    session = service.app[appkeys.LINK].session()
    assert session is not None
    pipeline = session.pipeline
    before = (pipeline.batches_sent, pipeline.commands_sent)
    answers = await asyncio.gather(*(service.get(f"/cache/default/k{i}") for i in range(50)))
    assert [a.status for a in answers] == [404] * 50
    batches = pipeline.batches_sent - before[0]
    commands = pipeline.commands_sent - before[1]
    # A GET per request (no memory tier to fill: no PTTL), and (idle PINGs
    # aside) far fewer writes than requests.
    assert commands >= 50
    assert batches <= commands / 4, (batches, commands)
