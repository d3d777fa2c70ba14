"""A batch of Redis hits reuses the decoding of bytes it read before
(service.cache.decodings), and never anything Redis did not just return:
a value rewritten or removed behind the service's back is answered as
Redis holds it on the very next batch, memory tier off."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.cache import codec
from tests.support.batches import mget
from tests.support.waiting import ready_client

StartClient = Callable[..., Awaitable[TestClient]]


def _stored(body: bytes, content_type: str = "text/plain") -> bytes:
    return codec.encode(body, content_type, codec.new_stamp(time.time(), 60_000))


async def test_a_rewritten_or_removed_value_is_answered_as_redis_holds_it(
    app_client: StartClient, redis_server: RedisServer
) -> None:
    client = await ready_client(app_client, redis_server.url, CACHE_LRU_MAX_ITEMS="0")
    with redis_server.client() as raw:
        raw.set("roleready:default:a", _stored(b"one"))
        raw.set("roleready:default:b", _stored(b"\xff\x00", "application/octet-stream"))
        for _ in range(2):  # decoded, then the same bytes again
            body = await mget(client, ["a", "b"])
            assert body["hits"]["a"] == {"value": "one", "encoding": "utf-8",
                                         "contentType": "text/plain", "source": "redis"}
            assert body["hits"]["b"]["value"] == "/wA=" and body["misses"] == []
        assert len(client.app[appkeys.CACHE].decodings) == 2
        raw.set("roleready:default:a", _stored(b"two", "text/html"))
        raw.delete("roleready:default:b")
        body = await mget(client, ["a", "b"])
        assert body["hits"] == {"a": {"value": "two", "encoding": "utf-8",
                                      "contentType": "text/html", "source": "redis"}}
        assert body["misses"] == ["b"]
        raw.set("roleready:default:a", b"\x09not a value this service wrote")
        assert (await mget(client, ["a"]))["misses"] == ["a"]
