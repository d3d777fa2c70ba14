"""Tag records that vanish (service/cache/tag_writes.py, docs/consistency.md
"Tags"): a record Redis evicted reads as missing, and missing fails every
value carrying its tag, so an instance that never knew the record does not
serve a value written before the invalidation it held; every tagged write
creates its records, or extends them, so they outlive its values; untagged
requests send no command more. In-process instances on real redis-servers;
commands are counted with INFO commandstats."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
import redis as redis_py
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from tests.integration.test_acl import create_user
from tests.integration.test_tags import CONVERGED_S, NOT_READY, TAGS, _body, _invalidate, _memory_hit, _serves
from tests.support.waiting import eventually, eventually_async, link_state, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
RECORD = "roleready:~tag:default:t"
VALUE = "roleready:default:k"
# 2H for the default namespace: (TTL 300 s + the 60 s margin) x 2.
RECORD_PX = 720_000
# Least frequently used first, counted exactly (every access counts, none
# decays): which key Redis evicts is then known in advance. (allkeys-lru,
# as deploy/redis.conf ships, measures idleness in whole seconds.)
LFU = ("--maxmemory-policy", "allkeys-lfu", "--lfu-log-factor", "0", "--lfu-decay-time", "0",
       "--maxmemory-samples", "10")
BALLAST_BYTES = 2 << 20
DATA_COMMANDS = ("set", "get", "pttl", "eval", "evalsha", "del", "unlink", "exists", "pexpire",
                 "time", "mget")


def _evict_by_maxmemory(raw: redis_py.Redis) -> None:
    """Make Redis evict the record, and not the value, for lack of memory:
    a ballast used more than the record and less than the value goes after
    the record, and is enough to get under the new maxmemory."""
    raw.set("ballast", b"x" * BALLAST_BYTES)
    for _ in range(60):
        raw.get("ballast")
    for _ in range(150):
        raw.get(VALUE)
    freq = {key: raw.object("freq", key) for key in (RECORD, "ballast", VALUE)}
    assert freq[RECORD] < freq["ballast"] < freq[VALUE], freq
    used = int(raw.info("memory")["used_memory"])
    raw.config_set("maxmemory", used - BALLAST_BYTES // 2)
    evicted = int(raw.info("stats")["evicted_keys"])
    while raw.exists(RECORD):  # evictions run before each command while over
        assert int(raw.info("stats")["evicted_keys"]) < evicted + 3
    assert raw.exists(VALUE) == 1 and raw.exists("ballast") == 0
    assert int(raw.info("stats")["evicted_keys"]) >= 2
    raw.config_set("maxmemory", 0)


@pytest.mark.parametrize("eviction", ["del", "maxmemory"])
async def test_an_instance_that_never_knew_an_evicted_record_does_not_serve_what_it_invalidated(
    app_client: StartClient, redis_factory: Callable[..., RedisServer], eviction: str
) -> None:
    redis = redis_factory(*(LFU if eviction == "maxmemory" else ()))
    a = await ready_client(app_client, redis.url)
    await a.put("/cache/default/k", data=b"old", headers={TAGS: "t"})
    invalidated = await _invalidate(a, "default", "t")
    with redis.client() as raw:
        assert raw.exists(VALUE) == 1  # unread since: still in Redis
        if eviction == "del":  # as maxmemory's eviction would
            assert raw.delete(RECORD) == 1
        else:
            _evict_by_maxmemory(raw)
    fresh = await ready_client(app_client, redis.url)  # started since: knew nothing
    assert await _body(fresh, "/cache/default/k") is None
    assert await _body(a, "/cache/default/k") is None
    # A write after it re-creates the record, above the invalidation's
    # value, and is served through either instance.
    await fresh.put("/cache/default/j", data=b"new", headers={TAGS: "t"})
    with redis.client() as raw:
        assert int(raw.get(RECORD)) > invalidated["invalidatedAtUs"]
        assert RECORD_PX - 1000 < raw.pttl(RECORD) <= RECORD_PX
    for client in (fresh, a):
        await _serves(client, "/cache/default/j", b"new")
    assert await _body(fresh, "/cache/default/k") is None


async def test_a_tagged_write_extends_its_record_and_about_once_per_h(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    """In the `short` namespace (TTL 10 s): H = 70 s, records set to 140 s."""
    env = {"CACHE_SHORT_TTL_MS": "10000"}
    a, b = [await ready_client(app_client, redis_server.url, **env) for _ in range(2)]
    record = "roleready:~tag:short:t"
    tags = a.app[appkeys.CACHE].tags
    with redis_server.client() as raw:
        await a.put("/cache/short/k", data=b"k", headers={TAGS: "t"})
        assert 139_000 < raw.pttl(record) <= 140_000
        # As if 135 s had passed: under H left. A write that does not know
        # the record (the change made it unknown) ensures it first.
        raw.pexpire(record, 5000)
        await eventually(lambda: tags.unknown("short", ["t"]) == ["t"], what="the change heard")
        await a.put("/cache/short/j", data=b"j", headers={TAGS: "t"})
        assert 139_000 < raw.pttl(record) <= 140_000
        # Known from a read (a GET: its life unknown): the write's ENSURE
        # travels in its own batch, ahead of the SET.
        raw.pexpire(record, 5000)
        await eventually(lambda: tags.unknown("short", ["t"]) == ["t"], what="the change heard")
        await _memory_hit(a, "/cache/short/j")
        assert tags.plan("short", ["t"])[1:] == ([], ["t"])
        before = _calls(raw)
        await a.put("/cache/short/j", data=b"j2", headers={TAGS: "t"})
        assert _delta(raw, before) == {"set": 2, "eval": 1, "get": 1, "pttl": 1}  # SET, and ENSURE's own
        assert 139_000 < raw.pttl(record) <= 140_000
        await _serves(b, "/cache/short/j", b"j2")
        # From then on the record is known to live 140 s: writes send their
        # SET alone until under H is left. (An extension reaches its writer
        # too, on Redis 7.0: a script's changes despite NOLOOP; the writer
        # then ensures it once more, which changes nothing: no message.)
        async def sets_alone() -> bool:
            before = _calls(raw)
            for i in range(3):
                await a.put(f"/cache/short/m{i}", data=b"m", headers={TAGS: "t"})
            return _delta(raw, before) == {"set": 3}

        await eventually_async(sets_alone, timeout=CONVERGED_S, what="tagged PUTs as SETs alone")


async def test_untagged_requests_send_no_command_more(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = [await ready_client(app_client, redis_server.url) for _ in range(2)]
    with redis_server.client() as raw:
        before = _calls(raw)
        await a.put("/cache/default/plain", data=b"p")
        assert _delta(raw, before) == {"set": 1}
        before = _calls(raw)
        assert await _body(b, "/cache/default/plain") == b"p"  # from Redis
        assert _delta(raw, before) == {"get": 1, "pttl": 1}
        before = _calls(raw)
        assert await _body(a, "/cache/default/plain") == b"p"  # from memory
        assert _delta(raw, before) == {}
        assert raw.keys("roleready:~tag:*") == []


async def test_mset_and_a_lease_fill_re_create_a_vanished_record(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    a, b = [await ready_client(app_client, redis_server.url) for _ in range(2)]
    await a.put("/cache/default/k", data=b"k", headers={TAGS: "t"})
    with redis_server.client() as raw:
        raw.delete(RECORD)
        mset = await a.post("/cache/default/_mset", json={"entries": {
            "x": {"value": "1", "tags": ["t", "u"]}, "y": {"value": "2"}}})
        assert mset.status == 200
        assert raw.exists(RECORD, "roleready:~tag:default:u") == 2
        await _serves(b, "/cache/default/x", b"1")
        raw.delete(RECORD)
        miss = await a.get("/cache/default/z?lease=1")
        assert miss.status == 404
        fill = await a.put("/cache/default/z", data=b"filled", headers={
            TAGS: "t", "X-Cache-Lease": miss.headers["X-Cache-Lease"]})
        assert fill.status == 204
        assert raw.pttl(RECORD) > RECORD_PX - 1000
    await _serves(b, "/cache/default/z", b"filled")


async def test_an_outage_write_replayed_after_its_record_vanished_is_a_miss(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    """A is cut off (its ACL user switched off) while B invalidates the tag
    and Redis evicts the record; A's outage write, from before, is written
    back at its reconnect (CACHE_OUTAGE_REPLAY=write) and never served. A
    runs as the documented ACL user: ENSURE needs no command more."""
    a = await ready_client(app_client, create_user(redis_server, "cutoff"),
                           CACHE_OUTAGE_REPLAY="write")
    b = await ready_client(app_client, redis_server.url)
    assert (await a.put("/cache/default/before", data=b"b", headers={TAGS: "t"})).status == 204
    with redis_server.client() as admin:
        assert admin.exists(RECORD) == 1
        admin.execute_command("ACL", "SETUSER", "cutoff", "off")
        admin.execute_command("CLIENT", "KILL", "USER", "cutoff")
    await link_state(a.app, *NOT_READY)
    put = await a.put("/cache/default/k", data=b"old", headers={TAGS: "t"})
    assert put.headers["X-Cache-Stored"] == "memory"
    await _invalidate(b, "default", "t")
    with redis_server.client() as admin:
        assert admin.delete(RECORD) == 1  # evicted
        admin.execute_command("ACL", "SETUSER", "cutoff", "on")
    await link_state(a.app, "ready")
    with redis_server.client() as raw:
        assert raw.exists(VALUE) == 1  # written back
    fresh = await ready_client(app_client, redis_server.url)
    for client in (fresh, b, a):
        assert await _body(client, "/cache/default/k") is None


def _calls(raw: redis_py.Redis) -> dict[str, int]:
    stats = raw.info("commandstats")
    return {name: int(stats[f"cmdstat_{name}"]["calls"])
            for name in DATA_COMMANDS if f"cmdstat_{name}" in stats}


def _delta(raw: redis_py.Redis, before: dict[str, int]) -> dict[str, int]:
    after = _calls(raw)
    return {name: n - before.get(name, 0) for name, n in after.items() if n != before.get(name, 0)}
