"""The batch endpoints (`_mget`, `_mset`, `_mdelete`) and the purge of a
namespace, against real redis-server processes (and a cluster)."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from opentelemetry.sdk.trace import TracerProvider

from scripts.harness.redis_cluster import LocalCluster
from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.cache import codec
from service.link.traced import TracedLink
from service.telemetry import Tracing
from tests.support.batches import mget
from tests.support.waiting import eventually_async, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
NOT_UTF8 = b"\xff\xfe\x00binary"


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    """A client of the test's own, straight to `redis_server`."""
    client = aioredis.Redis(port=redis_server.port)
    yield client
    await client.aclose()


def _v2(body: bytes, ttl_ms: int = 60_000) -> bytes:
    """A value as the service stores it, written by another program."""
    return codec.encode(body, "text/plain", codec.new_stamp(time.time(), ttl_ms))


async def _post(client: TestClient, path: str, body: Any) -> tuple[int, Any]:
    response = await client.post(path, json=body)
    return response.status, await response.json()


def _sources(body: Any) -> dict[str, str]:
    return {key: hit["source"] for key, hit in body["hits"].items()}


async def test_mget_answers_memory_redis_and_misses_with_base64_for_bytes(
    app_client: StartClient, redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    client = await ready_client(app_client, redis_server.url)
    await client.put("/cache/default/mem", data=b"in memory", headers={"Content-Type": "text/plain"})
    await client.put("/cache/default/bin", data=NOT_UTF8)
    await raw.set("roleready:default:red", _v2(b"from redis"))
    body = await mget(client, ["mem", "red", "bin", "gone", "mem", "gone"])  # repeats: once
    assert body["misses"] == ["gone"]
    assert _sources(body) == {"mem": "memory", "red": "redis", "bin": "memory"}
    assert body["hits"]["mem"] == {"value": "in memory", "encoding": "utf-8",
                                   "contentType": "text/plain", "source": "memory"}
    assert body["hits"]["bin"]["encoding"] == "base64"
    assert base64.b64decode(body["hits"]["bin"]["value"]) == NOT_UTF8
    # The Redis hit filled memory, as a single GET does.
    assert _sources(await mget(client, ["red"])) == {"red": "memory"}


async def test_100_redis_misses_are_read_in_one_round_trip_and_a_stale_value_is_a_miss(
    app_client: StartClient, redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    client = await ready_client(app_client, redis_server.url, CACHE_DEFAULT_STALE_MS="60000")
    await raw.mset({f"roleready:default:k{i}": _v2(f"v{i}".encode()) for i in range(100)})
    await raw.set("roleready:default:old", _v2(b"past its ttl", ttl_ms=-1000))
    await raw.pexpire("roleready:default:k3", 5000)
    session = client.app[appkeys.LINK].session()
    assert session is not None
    before = (session.pipeline.batches_sent, session.pipeline.commands_sent)
    body = await mget(client, [f"k{i}" for i in range(100)] + ["old"])
    # One command (READ_MANY: values and PTTLs), in one round trip.
    assert (session.pipeline.batches_sent, session.pipeline.commands_sent) == (
        before[0] + 1, before[1] + 1)
    # The memory copy lives no longer than Redis keeps the key.
    memory = client.app[appkeys.CACHE].memory
    entry = memory.get("default", "k3")
    assert entry is not None and 0 < memory.remaining_ms(entry) <= 5000
    assert set(_sources(body).values()) == {"redis"} and len(body["hits"]) == 100
    assert body["hits"]["k7"]["value"] == "v7"
    assert body["misses"] == ["old"]  # in the stale window: a miss, never kept


async def test_an_mget_read_overtaken_by_a_put_is_not_kept_in_memory(
    app_client: StartClient, redis_server: RedisServer, raw: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await ready_client(app_client, redis_server.url)
    await raw.set("roleready:default:k", _v2(b"older"))
    tier = client.app[appkeys.CACHE].redis
    assert tier is not None
    read_many = tier.get_many

    async def overtaken(namespace: str, keys: list[str], budget: Any) -> Any:
        values = await read_many(namespace, keys, budget)  # Redis answered "older", then
        assert (await client.put("/cache/default/k", data=b"newer")).status == 204
        return values

    monkeypatch.setattr(tier, "get_many", overtaken)
    body = await mget(client, ["k"])
    # The batch began before the PUT: either value may answer it ...
    assert body["hits"]["k"]["value"] == "older"
    monkeypatch.undo()
    # ... but the older one must not stay in memory after the PUT.
    answer = await client.get("/cache/default/k")
    assert (answer.headers["X-Cache"], await answer.read()) == ("hit-memory", b"newer")


async def test_one_bad_entry_refuses_the_whole_batch_and_nothing_is_written(
    app_client: StartClient, redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    client = await ready_client(app_client, redis_server.url)
    good = {"value": "ok"}
    bad_entries = {
        "bad key!": good,
        "k2": {"value": "%%%", "encoding": "base64"},
        "k3": {"value": "ok", "ttl_ms": 10**12},
        "k4": {"value": "ok", "contentType": "text/\u00e9"},
    }
    for bad_key, bad in bad_entries.items():
        status, body = await _post(client, "/cache/default/_mset",
                                   {"entries": {"k0": good, bad_key: bad, "k9": good}})
        assert status == 400 and body["key"] == bad_key and bad_key in body["message"], body
    status, body = await _post(client, "/cache/default/_mdelete", {"keys": ["k0", "no/slash"]})
    assert (status, body["error"], body["key"]) == (400, "bad_key", "no/slash")
    assert await raw.dbsize() == 0
    assert (await mget(client, ["k0", "k9"]))["misses"] == ["k0", "k9"]
    status, body = await _post(client, "/cache/nope/_mget", {"keys": ["k0"]})
    assert (status, body["error"]) == (404, "unknown_namespace")


async def test_bounds_of_a_batch(app_client: StartClient, redis_server: RedisServer) -> None:
    client = await ready_client(app_client, redis_server.url, CACHE_BATCH_MAX_BYTES="2000",
                                CACHE_BATCH_MAX_KEYS="10", CACHE_MAX_VALUE_BYTES="100")
    status, body = await _post(client, "/cache/default/_mset", {"entries": {"k": {"value": "x" * 3000}}})
    assert (status, body["error"]) == (413, "too_large")
    status, body = await _post(client, "/cache/default/_mset", {"entries": {"k": {"value": "x" * 101}}})
    assert (status, body["error"], body["key"]) == (413, "too_large", "k")
    status, body = await _post(client, "/cache/default/_mget", {"keys": [f"k{i}" for i in range(11)]})
    assert (status, body["error"]) == (400, "too_many_keys")
    assert (await client.post("/cache/default/_mget", data=b"{nope")).status == 400


async def test_with_redis_down_batches_are_answered_from_memory_at_once(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    status, body = await _post(client, "/cache/default/_mset",
                               {"entries": {"a": {"value": "1"}, "b": {"value": "2"}}})
    assert body == {"stored": {"a": "redis", "b": "redis"}, "notStored": []}
    redis_server.kill()
    await client.get("/cache/default/nothing")  # meets the dead server: the link drops
    await link_state(client.app, "reconnecting", "failed", "error")
    started = time.monotonic()
    response = await client.post("/cache/default/_mset", json={"entries": {"c": {"value": "3"}}})
    assert response.headers["X-Cache-Degraded"] == "redis-unavailable"
    assert await response.json() == {"stored": {"c": "memory"}, "notStored": []}
    body = await mget(client, ["a", "c", "x"])
    assert (_sources(body), body["misses"]) == ({"a": "memory", "c": "memory"}, ["x"])
    status, body = await _post(client, "/cache/default/_mdelete", {"keys": ["a"]})
    assert body == {"deleted": {"a": "memory"}}
    assert time.monotonic() - started < 0.2  # no command timeout paid (250 ms each)
    assert len(client.app[appkeys.CACHE].outbox or ()) == 2  # c written, a deleted


async def test_mdelete_ends_a_lease_as_a_single_delete_does(
    app_client: StartClient, redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    client = await ready_client(app_client, redis_server.url)
    token = (await client.get("/cache/default/k?lease=1")).headers["X-Cache-Lease"]
    assert await raw.exists("roleready:~lease:{roleready:default:k}") == 1
    assert (await _post(client, "/cache/default/_mdelete", {"keys": ["k"]}))[1] == {
        "deleted": {"k": "redis"}}
    assert await raw.exists("roleready:~lease:{roleready:default:k}") == 0
    refused = await client.put("/cache/default/k", data=b"late", headers={"X-Cache-Lease": token})
    assert refused.status == 409


async def test_a_purge_unlinks_the_namespace_and_every_instance_forgets_it(
    app_client: StartClient, redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    a = await ready_client(app_client, redis_server.url)
    b = await ready_client(app_client, redis_server.url)
    for part in range(3):  # more keys than one SCAN page (COUNT 1000)
        entries = {f"k{i}": {"value": f"v{i}"} for i in range(part * 500, part * 500 + 500)}
        assert (await _post(a, "/cache/default/_mset", {"entries": entries}))[0] == 200
    await _post(a, "/cache/ai_draft/_mset", {"entries": {"kept": {"value": "x"}}})
    assert len((await mget(b, ["k1", "k2"]))["hits"]) == 2
    assert _sources(await mget(b, ["k1", "k2"])) == {"k1": "memory", "k2": "memory"}

    held = sum(name.startswith("default:") for name in a.app[appkeys.CACHE].memory.names())
    response = await a.delete("/cache/default")
    assert response.status == 202
    location = response.headers["Location"]

    async def done() -> bool:
        return (await (await a.get(location)).json())["state"] == "done"

    await eventually_async(done, timeout=5, what="the purge")
    job = await (await a.get(location)).json()
    assert job["unlinked"] == 1500 and job["forgottenInMemory"] == held
    assert await raw.dbsize() == 1  # ai_draft's key only
    assert (await mget(a, ["k1"]))["misses"] == ["k1"]

    async def b_forgot() -> bool:  # UNLINK reaches B through its invalidation stream
        return (await mget(b, ["k1", "k2"]))["misses"] == ["k1", "k2"]

    await eventually_async(b_forgot, timeout=2, what="B's memory following the purge")
    assert _sources(await mget(b, ["kept"], "ai_draft")) == {"kept": "redis"}
    assert (await b.get(location)).status == 404  # jobs are their instance's


async def test_mget_and_a_traced_purge_over_the_masters_of_a_cluster(
    app_client: StartClient, redis_cluster: LocalCluster
) -> None:
    # Tracing on wraps the link: the purge must still scan every master.
    provider = TracerProvider()
    client = await app_client("redis://127.0.0.1:1", REDIS_LAZY_CONNECT="false",
                              REDIS_CLUSTER_NODES=redis_cluster.seeds,
                              tracing=Tracing(provider.get_tracer("test"), provider))
    await link_state(client.app, "ready")
    assert isinstance(client.app[appkeys.LINK], TracedLink)
    keys = [f"k{i}" for i in range(30)]
    masters = {redis_cluster.master_for(f"roleready:default:{key}").port for key in keys}
    assert len(masters) == 3
    status, body = await _post(client, "/cache/default/_mset",
                               {"entries": {key: {"value": key} for key in keys}})
    assert set(body["stored"].values()) == {"redis"}
    client.app[appkeys.CACHE].memory.clear()
    body = await mget(client, [*keys, "missing"])
    assert body["misses"] == ["missing"]
    assert {key: hit["value"] for key, hit in body["hits"].items()} == {k: k for k in keys}
    assert set(_sources(body).values()) == {"redis"}
    assert (await client.delete("/cache/default")).status == 202

    async def purged() -> bool:
        return (await mget(client, keys))["misses"] == keys and all(
            redis_cluster.node_client(m).dbsize() == 0 for m in redis_cluster.masters)

    await eventually_async(purged, timeout=5, what="the cluster purge")
