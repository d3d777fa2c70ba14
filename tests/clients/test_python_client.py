"""The Python clients (both twins) against the running fleet: each call, what
its result says, ETag revalidation, and a typed error for each refusal."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest
from roleready_cache_client import (
    BadRequest,
    Entry,
    NewValue,
    NotFound,
    StaleLease,
    Stored,
    Unauthorized,
)
from roleready_cache_client.protocol import Answer

from tests.clients.conftest import TOKEN, Fleet, unique
from tests.clients.twins import KINDS, Twin, twins

pytestmark = pytest.mark.redis


@pytest.fixture(params=KINDS)
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., Twin]]:
    async with twins(request.param) as make:
        yield make


async def test_put_get_delete_and_a_miss(make: Callable[..., Twin], fleet: Fleet) -> None:
    a, b = (make(url, token=TOKEN) for url in fleet.urls)
    key = unique("job")
    assert await a.put(key, '{"state": "done"}', content_type="application/json") == Stored("redis")
    here, there = await a.get(key), await b.get(key)
    assert isinstance(here, Entry) and isinstance(there, Entry)
    assert (here.source, there.source) == ("hit-memory", "hit-redis")
    assert here.json() == there.json() == {"state": "done"}
    assert here.content_type == "application/json" and here.etag == there.etag
    assert here.max_age_s == 60 and here.age_s is not None and 0 <= here.age_s < 60
    assert not here.degraded and not here.stale
    assert here.request_id

    assert await b.delete(key) == Stored("redis")
    assert await a.get(key) is None and await b.get(key) is None


async def test_bytes_and_ttl(make: Callable[..., Twin], fleet: Fleet) -> None:
    cache = make(fleet.urls[0], token=TOKEN)
    key = unique("blob")
    await cache.put(key, b"\x00\xff", ttl_ms=5000)
    entry = await cache.get(key)
    assert entry is not None
    assert (entry.value, entry.content_type, entry.max_age_s) == (
        b"\x00\xff", "application/octet-stream", 5)


async def test_revalidation_with_the_etag(make: Callable[..., Twin], fleet: Fleet) -> None:
    a, b = (make(url, token=TOKEN) for url in fleet.urls)
    key = unique("doc")
    await a.put(key, "v1")
    first = await b.get(key)
    assert first is not None and first.etag

    again = await b.get(key, previous=first)
    assert again is not None and again.not_modified and again.value == b"v1"
    assert again.etag == first.etag and again.content_type == first.content_type
    # What came over the wire was a 304 without the body.
    raw: Answer = await b.send(b.protocol.get(key, first))
    assert (raw.status, raw.body) == (304, b"")

    await a.put(key, "v2")
    changed = await b.get(key, previous=first)
    assert changed is not None and not changed.not_modified and changed.value == b"v2"


async def test_batches(make: Callable[..., Twin], fleet: Fleet) -> None:
    a, b = (make(url, token=TOKEN) for url in fleet.urls)
    k1, k2, k3 = unique("m"), unique("m"), unique("m")
    stored = await a.mset({k1: "one", k2: NewValue(b"\x01\x02", "image/png", 4000)})
    assert stored.stored == {k1: "redis", k2: "redis"} and stored.not_stored == []
    found = await b.mget([k1, k3, k2])
    assert list(found) == [k1, k3, k2] and found[k3] is None
    assert found[k1] is not None and found[k1].text() == "one"
    assert found[k2] is not None and (found[k2].value, found[k2].content_type) == (
        b"\x01\x02", "image/png")
    assert await a.mdelete([k1, k2]) == {k1: "redis", k2: "redis"}
    assert set((await b.mget([k1, k2])).values()) == {None}


async def test_mget_continues_an_answer_cut_at_the_budget(
    make: Callable[..., Twin], fleet: Fleet
) -> None:
    cache = make(fleet.urls[0], token=TOKEN)
    keys = [unique("u") for _ in range(3)]
    await cache.mset({key: "abc" for key in keys})
    # The fleet's answer budget is 4 bytes: one answer carries one value.
    first = await cache.send(cache.protocol.mget(keys))
    assert first.status == 200 and len(json.loads(first.body)["unread"]) == 2
    found = await cache.mget([*keys, "never-written"])
    assert [entry and entry.text() for entry in found.values()] == ["abc", "abc", "abc", None]


async def test_tags_and_their_invalidation_over_two_instances(
    make: Callable[..., Twin], fleet: Fleet
) -> None:
    a, b = (make(url, token=TOKEN) for url in fleet.urls)
    tag, tagged, other = unique("candidate"), unique("t"), unique("t")
    await a.put(tagged, "parse", tags=[tag, "job:7"])
    await a.put(other, "untouched", tags=["job:7"])
    seen = await b.get(tagged)  # B holds it in memory from here on
    assert seen is not None and seen.text() == "parse"
    done = await a.invalidate([tag])
    assert (done["tags"], done["appliedIn"]) == ([tag], "redis")
    deadline = asyncio.get_running_loop().time() + 5
    while await b.get(tagged) is not None:  # B drops it once the change reaches it
        assert asyncio.get_running_loop().time() < deadline, "B still serves the tagged value"
        await asyncio.sleep(0.02)
    kept = await b.get(other)
    assert kept is not None and kept.text() == "untouched"


async def test_purge_and_its_status(make: Callable[..., Twin], fleet: Fleet) -> None:
    cache = make(fleet.urls[0], "purged", token=TOKEN)
    key = unique("p")
    await cache.put(key, "x")
    job = await cache.purge()
    assert job.namespace == "purged" and job.state in ("running", "done")
    assert (await cache.purge_status(job.id)).id == job.id
    with pytest.raises(NotFound) as refused:
        await cache.purge_status("no-such-job")
    assert refused.value.code == "unknown_purge"


async def test_typed_errors(make: Callable[..., Twin], fleet: Fleet) -> None:
    url = fleet.urls[0]
    cache = make(url, token=TOKEN)
    key = unique("e")
    with pytest.raises(BadRequest) as bad:
        await cache.put(key, "x", ttl_ms=600_000)
    assert (bad.value.status, bad.value.code) == (400, "bad_ttl_ms") and bad.value.request_id
    with pytest.raises(BadRequest) as local:
        await cache.get("a/lease")  # refused before sending: it would reach another route
    assert (local.value.status, local.value.code) == (0, "bad_key")
    for token in (None, "wrong"):
        with pytest.raises(Unauthorized) as refused:
            await make(url, token=token).get(key)
        assert (refused.value.status, refused.value.code) == (401, "unauthorized")
    with pytest.raises(NotFound) as unknown:
        await make(url, "nowhere", token=TOKEN).get(key)
    assert unknown.value.code == "unknown_namespace"


async def test_a_lease_overtaken_by_a_write_is_stale(make: Callable[..., Twin], fleet: Fleet) -> None:
    a, b = (make(url, token=TOKEN) for url in fleet.urls)
    key = unique("lease")
    answer: Answer = await a.send(a.protocol.leased_get(key, 0))
    token = answer.headers["x-cache-lease"]
    await b.put(key, "someone else's")
    with pytest.raises(StaleLease) as stale:
        await a.put(key, "mine", lease=token)
    assert stale.value.status == 409
    with pytest.raises(StaleLease):
        await a.release_lease(key, "rNotTheLease")
    entry = await b.get(key)
    assert entry is not None and entry.text() == "someone else's"


async def test_health_and_status(make: Callable[..., Twin], fleet: Fleet) -> None:
    cache = make(fleet.urls[1], token=TOKEN)  # observing needs a token's observe right
    assert (await cache.health())["status"] == "healthy"
    assert (await cache.status())["status"] == "ok"
