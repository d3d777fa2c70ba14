"""Tag invalidation (service/cache/tags.py) with two in-process instances on
one real Redis: an invalidation through one instance stops every instance
serving an entry written before it, within the coherence guarantee (2 s, as
tests/integration/test_coherence.py waits), while entries written after it
hit; through outages, missed messages, leases and stale windows."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from scripts.harness.redis_cluster import LocalCluster
from scripts.harness.redis_server import RedisServer
from scripts.harness.sentinel import SentinelSetup
from service import appkeys
from service.cache import tags as tag_ops
from statemachine.clock import FakeClock
from tests.integration.test_acl import create_user
from tests.support.waiting import eventually, eventually_async, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
CONVERGED_S = 2.0
TAGS = "X-Cache-Tags"
NOT_READY = ("error", "reconnecting", "failed")
DURABLE = ("--appendonly", "yes", "--appendfsync", "always")
# Only credentials and TLS are read from REDIS_URL in cluster mode.
CLUSTER_URL = "redis://127.0.0.1:1"


async def _pair(app_client: StartClient, url: str, **env: str) -> tuple[TestClient, TestClient]:
    return (await ready_client(app_client, url, **env), await ready_client(app_client, url, **env))


async def _body(client: TestClient, path: str) -> bytes | None:
    response = await client.get(path)
    return await response.read() if response.status == 200 else None


async def _serves(client: TestClient, path: str, expected: bytes | None) -> None:
    async def check() -> bool:
        return await _body(client, path) == expected

    await eventually_async(check, timeout=CONVERGED_S, what=f"{path} -> {expected!r}")


async def _invalidate(client: TestClient, namespace: str, *tags: str) -> dict:  # type: ignore[type-arg]
    response = await client.post(f"/cache/{namespace}/_invalidate", json={"tags": list(tags)})
    assert response.status == 200, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def test_an_invalidation_through_one_instance_reaches_every_instance(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server.url)
    put = {"/cache/default/one": (a, "candidate:42"), "/cache/default/two": (b, "job:7, candidate:42"),
           "/cache/default/three": (a, "job:7"), "/cache/ai_draft/one": (b, "candidate:42")}
    for path, (writer, tags) in put.items():
        assert (await writer.put(path, data=path.encode(), headers={TAGS: tags})).status == 204
    assert (await a.put("/cache/default/plain", data=b"p")).status == 204
    mset = await b.post("/cache/default/_mset", json={"entries": {
        "four": {"value": "4", "tags": ["candidate:42"]}, "five": {"value": "5"}}})
    assert mset.status == 200
    for client in (a, b):  # every entry in both memory tiers, tags answered
        for path in [*put, "/cache/default/plain", "/cache/default/four"]:
            answer = await _memory_hit(client, path)
            assert answer.headers.get(TAGS) == (put[path][1] if path in put else
                                                "candidate:42" if path.endswith("four") else None)
    answer = await _invalidate(a, "default", "candidate:42")
    assert answer["tags"] == ["candidate:42"] and answer["appliedIn"] == "redis"
    assert answer["invalidatedAt"].endswith("Z") and answer["invalidatedAtUs"] > 0
    await _batch_misses_what_was_invalidated(a)  # memory's copies, checked in a batch
    gone = ["/cache/default/one", "/cache/default/two", "/cache/default/four"]
    for path in gone:  # through A: at once
        assert await _body(a, path) is None
    for path in gone:  # through B: within the coherence guarantee
        await _serves(b, path, None)
    await _batch_misses_what_was_invalidated(b)
    for client in (a, b):  # untouched: other tags, no tags, another namespace
        for path in ("/cache/default/three", "/cache/default/plain", "/cache/ai_draft/one",
                     "/cache/default/five"):
            assert await _body(client, path) is not None, path
    # Written after the invalidation: served through either instance.
    assert (await b.put("/cache/default/one", data=b"new", headers={TAGS: "candidate:42"})).status == 204
    await _serves(a, "/cache/default/one", b"new")
    assert await _body(b, "/cache/default/one") == b"new"
    metrics = await (await a.get("/metrics")).text()
    assert "roleready_cache_tag_invalidations_total 1.0" in metrics
    health = await (await b.get("/health/detailed")).json()
    assert health["checks"]["cache"]["tags"]["foundInvalidated"] >= 0
    with redis_server.client() as raw:  # one record a tag, expiring 2H after (tag_writes.py)
        assert int(raw.get("roleready:~tag:default:candidate:42")) == answer["invalidatedAtUs"]
        # H = the namespace's TTL (300 s) + the 60 s margin.
        assert 719_000 < raw.pttl("roleready:~tag:default:candidate:42") <= 720_000
        # No per-entry bookkeeping; what was read invalidated is gone from Redis too.
        assert sorted(raw.keys("*")) == [
            b"roleready:ai_draft:one", b"roleready:default:five", b"roleready:default:one",
            b"roleready:default:plain", b"roleready:default:three",
            b"roleready:~tag:ai_draft:candidate:42", b"roleready:~tag:default:candidate:42",
            b"roleready:~tag:default:job:7"]


async def _memory_hit(client: TestClient, path: str) -> ClientResponse:
    """Read `path` until memory answers it. A fill that first had to read its
    tags' records is not kept (tags.py), and a record's creation or
    extension reaches its writer too (Redis 7.0 sends a script's changes
    despite NOLOOP), which reads it once more."""
    answers: list[ClientResponse] = []

    async def check() -> bool:
        answers.append(await client.get(path))
        return answers[-1].headers.get("X-Cache") == "hit-memory"

    await eventually_async(check, timeout=CONVERGED_S, what=f"{path} from memory")
    return answers[-1]


async def _batch_misses_what_was_invalidated(client: TestClient) -> None:
    mget = await (await client.post("/cache/default/_mget", json={
        "keys": ["one", "two", "three", "four", "five"]})).json()
    assert (sorted(mget["hits"]), sorted(mget["misses"])) == (
        ["five", "three"], ["four", "one", "two"])
    assert mget["hits"]["three"]["value"] == "/cache/default/three"


async def test_bad_tags_are_a_400_that_changes_nothing(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url)
    await client.put("/cache/default/k", data=b"v", headers={TAGS: "t"})
    too_many = ", ".join(f"t{i}" for i in range(17))
    for bad in ("", "a b", "é", "x" * 129, too_many, "a,,b"):
        answer = await client.put("/cache/default/k", data=b"bad", headers={TAGS: bad})
        assert answer.status == 400 and (await answer.json())["error"] == "bad_tags", bad
    for body in ({"tags": []}, {"tags": "t"}, {"tags": [1]}, {}, {"tags": ["x" * 129]}):
        answer = await client.post("/cache/default/_invalidate", json=body)
        assert answer.status == 400 and (await answer.json())["error"] == "bad_tags", body
    mset = await client.post("/cache/default/_mset", json={"entries": {
        "k": {"value": "bad"}, "j": {"value": "j", "tags": ["no spaces"]}}})
    assert mset.status == 400 and (await mset.json())["key"] == "j"
    assert await _body(client, "/cache/default/k") == b"v"
    assert await _body(client, "/cache/default/j") is None
    with redis_server.client() as raw:  # the good PUT's record only
        assert raw.keys("roleready:~tag:*") == [b"roleready:~tag:default:t"]
    unknown = await client.post("/cache/nope/_invalidate", json={"tags": ["t"]})
    assert unknown.status == 404


async def test_a_record_is_never_compared_with_an_instance_clock(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    """B's wall clock an hour behind or ahead changes nothing: what an entry
    saw is compared with the record it saw, both Redis's."""
    a, b = await _pair(app_client, redis_server.url)
    cache_a, cache_b = a.app[appkeys.CACHE], b.app[appkeys.CACHE]
    for skew_s in (-3600.0, 3600.0):
        cache_b._wall = lambda skew_s=skew_s: time.time() + skew_s  # type: ignore[method-assign]
        await cache_b.write("default", "k", b"old", "text/plain", 60_000, ["t"])
        assert await cache_a.get("default", "k") is not None
        await _memory_hit(b, "/cache/default/k")
        await tag_ops.invalidate(cache_a, "default", ["t"])
        assert await cache_a.get("default", "k") is None
        await _serves(b, "/cache/default/k", None)


async def test_an_invalidation_during_an_outage_is_honoured_at_once_and_applied_at_reconnect(
    app_client: StartClient, redis_factory: Callable[..., RedisServer]
) -> None:
    redis = redis_factory(*DURABLE)
    a, b = await _pair(app_client, redis.url)
    await a.put("/cache/default/k", data=b"old", headers={TAGS: "t"})
    for client in (a, b):
        assert await _body(client, "/cache/default/k") == b"old"
    redis.kill()
    try:
        await a.get("/cache/default/probe-the-dead-link")
        await link_state(a.app, *NOT_READY)
        answer = await _invalidate(a, "default", "t")
        assert answer["appliedIn"] == "memory"
        assert await _body(a, "/cache/default/k") is None  # honoured here at once
        # Written meanwhile with the tag: not served either (its record is unknown).
        await a.put("/cache/default/j", data=b"during", headers={TAGS: "t"})
        assert await _body(a, "/cache/default/j") is None
    finally:
        redis.restart()
    for client in (a, b):
        await link_state(client.app, "ready")
    with redis.client() as raw:  # applied before A was ready
        assert raw.exists("roleready:~tag:default:t") == 1
    assert a.app[appkeys.CACHE].outbox.tags == set()  # type: ignore[union-attr]
    for client in (a, b):
        await _serves(client, "/cache/default/k", None)
    await a.put("/cache/default/k", data=b"new", headers={TAGS: "t"})
    await _serves(b, "/cache/default/k", b"new")


async def test_a_reconnect_that_missed_an_invalidation_does_not_serve_what_it_covers(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server.url, REDIS_BACKOFF_BASE_MS="500", REDIS_BACKOFF_MAX_MS="500")
    await a.put("/cache/default/k", data=b"old", headers={TAGS: "t"})
    await _memory_hit(b, "/cache/default/k")  # B knows the record
    link = b.app[appkeys.LINK]
    session = link.session()
    assert session is not None and session.subscriber is not None
    with redis_server.client() as admin:
        assert admin.execute_command("CLIENT", "KILL", "ID", session.subscriber.client_id) == 1
    await link_state(b.app, *NOT_READY)
    await _invalidate(a, "default", "t")  # B is deaf: it never hears of it
    await eventually(lambda: link.lifecycle.view.reconnects_total == 1, what="B reconnects")
    await link_state(b.app, "ready")
    assert await _body(b, "/cache/default/k") is None


async def test_a_stale_value_whose_tag_was_invalidated_is_not_served_as_stale(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    clock = FakeClock()
    env = {"CACHE_SWR_TTL_MS": "1000", "CACHE_SWR_STALE_MS": "60000"}
    a = await ready_client(app_client, redis_server.url, clock=clock, **env)
    b = await ready_client(app_client, redis_server.url, clock=clock, **env)
    await a.put("/cache/swr/k", data=b"old", headers={TAGS: "t"})
    await a.put("/cache/swr/j", data=b"other", headers={TAGS: "u"})
    clock.advance(5)  # past the TTL, within the stale window
    stale = await b.get("/cache/swr/j?lease=1")
    assert stale.status == 200 and stale.headers["X-Cache-Stale"] == "true"
    await _invalidate(a, "swr", "t")
    # Never the stale value: a miss, with a lease for one caller fleet-wide.
    first, second = [await c.get("/cache/swr/k?lease=1&wait_ms=0") for c in (a, b)]
    assert (first.status, second.status) == (404, 404)
    assert second.headers["X-Cache-Lease"] == "pending"
    put = await a.put("/cache/swr/k", data=b"fresh",
                      headers={TAGS: "t", "X-Cache-Lease": first.headers["X-Cache-Lease"]})
    assert put.status == 204
    for client in (a, b):
        fresh = await client.get("/cache/swr/k")
        assert (await fresh.read(), fresh.headers.get(TAGS)) == (b"fresh", "t"), fresh.headers


async def test_cluster_an_invalidation_covers_entries_on_every_master(
    app_client: StartClient, redis_cluster: LocalCluster
) -> None:
    """Entries on three masters, their tags' records on others: no read or
    invalidation needs a cross-slot command."""
    a, b = [await ready_client(app_client, CLUSTER_URL, REDIS_CLUSTER_NODES=redis_cluster.seeds)
            for _ in range(2)]
    by_master: dict[int, str] = {}
    for i in range(100):
        port = redis_cluster.master_for(f"roleready:default:k{i}").port
        by_master.setdefault(port, f"k{i}")
    assert len(by_master) == 3
    tags = "candidate:42, job:7, job:8"
    records = {redis_cluster.master_for(f"roleready:~tag:default:{tag}").port
               for tag in ("candidate:42", "job:7", "job:8")}
    assert len(records) == 3  # one record on each master
    for key in by_master.values():
        assert (await a.put(f"/cache/default/{key}", data=key.encode(), headers={TAGS: tags})).status == 204
        for _ in range(3):  # into B's memory
            assert await _body(b, f"/cache/default/{key}") == key.encode()
    answer = await _invalidate(b, "default", "job:8")
    assert answer["appliedIn"] == "redis"
    for key in by_master.values():
        assert await _body(b, f"/cache/default/{key}") is None
        await _serves(a, f"/cache/default/{key}", None)
    key = next(iter(by_master.values()))
    # B knows the records from its reads, not their life: the write's
    # ENSUREs go to the records' masters in its batch, its SET to the key's.
    await b.put(f"/cache/default/{key}", data=b"new", headers={TAGS: tags})
    await _serves(a, f"/cache/default/{key}", b"new")
    # A record evicted on its master: what carries its tag is a miss on
    # every instance, and the next write re-creates it there.
    record = "roleready:~tag:default:job:7"
    with redis_cluster.master_for(record).client() as raw:
        assert raw.delete(record) == 1
    await _serves(a, f"/cache/default/{key}", None)
    await a.put(f"/cache/default/{key}", data=b"newer", headers={TAGS: tags})
    await _serves(b, f"/cache/default/{key}", b"newer")
    with redis_cluster.master_for(record).client() as raw:
        assert raw.exists(record) == 1


async def test_without_redis_tags_work_on_the_one_instance(app_client: StartClient) -> None:
    client = await app_client("")
    await client.put("/cache/default/k", data=b"old", headers={TAGS: "t"})
    assert (await client.get("/cache/default/k")).headers[TAGS] == "t"
    answer = await _invalidate(client, "default", "t")
    assert answer["appliedIn"] == "memory"
    assert await _body(client, "/cache/default/k") is None
    await client.put("/cache/default/k", data=b"new", headers={TAGS: "t"})
    assert await _body(client, "/cache/default/k") == b"new"


async def test_sentinel_an_invalidation_outlives_a_failover(
    app_client: StartClient, sentinel_setup: SentinelSetup
) -> None:
    """The record is replicated like any key: after the master dies and its
    replica is promoted, what was written before the invalidation stays unserved."""
    master, replica = sentinel_setup.master, sentinel_setup.replica
    env = sentinel_setup.env()
    url = env.pop("REDIS_URL")
    a, b = [await ready_client(app_client, url, **env) for _ in range(2)]
    await a.put("/cache/default/k", data=b"old", headers={TAGS: "t"})
    await a.put("/cache/default/m", data=b"old", headers={TAGS: "t"})  # unread until after
    for _ in range(3):
        assert await _body(b, "/cache/default/k") == b"old"
    await _invalidate(a, "default", "t")
    await _serves(b, "/cache/default/k", None)
    await a.put("/cache/default/j", data=b"after", headers={TAGS: "t"})
    with master.client() as raw:  # on the replica before the master dies
        assert raw.execute_command("WAIT", 1, 2000) == 1
    # ... and known to be there by the writer: a write still held unconfirmed
    # is replayed (deleted) at the reconnect, a miss, which would be allowed.
    held = a.app[appkeys.CACHE].unconfirmed
    assert held is not None
    await eventually(lambda: len(held) == 0, what="the replica's confirmation")
    master.kill()
    for client in (a, b):
        await eventually(lambda c=client: c.app[appkeys.LINK].lifecycle.is_ready()
                         and c.app[appkeys.LINK].lifecycle.view.reconnects_total >= 1,
                         timeout=15, what="ready on the promoted replica")
    with replica.client() as raw:
        assert raw.info("replication")["role"] == "master"
        assert raw.exists("roleready:default:m", "roleready:~tag:default:t") == 2
    for client in (a, b):
        assert await _body(client, "/cache/default/m") is None
        assert await _body(client, "/cache/default/k") is None
        assert await _body(client, "/cache/default/j") == b"after"


async def test_the_documented_redis_user_may_invalidate_and_one_without_time_never_blocks(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    allowed = await ready_client(app_client, create_user(redis_server, "roleready"))
    assert (await _invalidate(allowed, "default", "t"))["appliedIn"] == "redis"
    url = create_user(redis_server, "notime", without="+time")
    refused = await ready_client(app_client, url)
    await refused.put("/cache/default/k", data=b"v", headers={TAGS: "t"})
    assert (await _invalidate(refused, "default", "t"))["appliedIn"] == "memory"
    assert await _body(refused, "/cache/default/k") is None  # honoured here all the same
    link = refused.app[appkeys.LINK]
    session = link.session()
    assert session is not None and session.subscriber is not None
    with redis_server.client() as admin:  # a reconnect, which replays the outbox
        admin.execute_command("CLIENT", "KILL", "ID", session.subscriber.client_id)
    await eventually(lambda: link.lifecycle.view.reconnects_total == 1, what="a reconnect")
    await link_state(refused.app, "ready")
    assert refused.app[appkeys.CACHE].outbox.tags == set()  # type: ignore[union-attr]


async def test_an_evicted_record_does_not_bring_back_what_it_invalidated(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = await _pair(app_client, redis_server.url)
    await a.put("/cache/default/m", data=b"old", headers={TAGS: "t"})  # unread until after
    await a.put("/cache/default/k", data=b"old", headers={TAGS: "t"})
    await _invalidate(a, "default", "t")
    await _serves(b, "/cache/default/k", None)  # B has read the record
    with redis_server.client() as raw:  # as maxmemory's eviction would
        assert raw.delete("roleready:~tag:default:t") == 1
        assert raw.exists("roleready:default:m") == 1
    for client in (a, b):
        await eventually(lambda c=client: c.app[appkeys.CACHE].tags.unknown("default", ["t"])
                         == ["t"], what="the record's removal heard")
        assert await _body(client, "/cache/default/m") is None
