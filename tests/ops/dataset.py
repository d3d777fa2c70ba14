"""A varied dataset to prove a backup round trip loses nothing.

`fill` writes thousands of keys of every basic type, small (listpack
encoded) and large (hashtable/skiplist/quicklist encoded), binary and text,
a third of them with TTLs. `snapshot` reads every key back as
(type, value, pttl); `assert_same` compares two snapshots, allowing TTLs to
have shrunk by at most the time that passed between them.
"""

from __future__ import annotations

import random
from typing import Any

import redis

TTL_BASE_MS = 3_600_000  # an hour and more: nothing expires during a test
Snapshot = dict[bytes, tuple[bytes, Any, int]]


def fill(client: redis.Redis, per_type: int = 600, prefix: str = "k", seed: int = 6) -> int:
    """Write `per_type` keys of each of five types; return the number of keys."""
    rng = random.Random(seed)
    pipe = client.pipeline(transaction=False)
    for i in range(per_type):
        size = 300 if i % 50 == 0 else rng.randint(1, 12)
        _write_one(pipe, f"{prefix}:{i}", size, rng)
        if i % 3 == 0:
            for kind in ("str", "hash", "list", "set", "zset"):
                pipe.pexpire(f"{prefix}:{i}:{kind}", TTL_BASE_MS + i * 1000)
        if i % 100 == 99:
            pipe.execute()
    pipe.execute()
    return per_type * 5


def _write_one(pipe: Any, key: str, size: int, rng: random.Random) -> None:
    pipe.set(f"{key}:str", rng.randbytes(size * 8))
    pipe.hset(f"{key}:hash", mapping={f"f{j}": rng.randbytes(6) for j in range(size)})
    pipe.rpush(f"{key}:list", *(rng.randbytes(5) for _ in range(size)))
    # Integer-only sets use the intset encoding, others a listpack or hashtable.
    member = "{}" if size % 2 else "member-{}"
    pipe.sadd(f"{key}:set", *(member.format(rng.randrange(10**9)) for _ in range(size)))
    pipe.zadd(f"{key}:zset", {f"m{j}": rng.uniform(-1e6, 1e6) for j in range(size)})


def snapshot(client: redis.Redis) -> Snapshot:
    keys = sorted(client.scan_iter(count=1000))
    result: Snapshot = {}
    for start in range(0, len(keys), 500):
        batch = keys[start:start + 500]
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.type(key)
            pipe.pttl(key)
        meta = pipe.execute()
        types = meta[0::2]
        for key, kind in zip(batch, types, strict=True):
            _read_value(pipe, key, kind)
        values = pipe.execute()
        for key, kind, ttl, value in zip(batch, types, meta[1::2], values, strict=True):
            result[key] = (kind, _normalise(kind, value), ttl)
    return result


def _read_value(pipe: Any, key: bytes, kind: bytes) -> None:
    readers = {
        b"string": lambda: pipe.get(key),
        b"hash": lambda: pipe.hgetall(key),
        b"list": lambda: pipe.lrange(key, 0, -1),
        b"set": lambda: pipe.smembers(key),
        b"zset": lambda: pipe.zrange(key, 0, -1, withscores=True),
    }
    readers[kind]()


def _normalise(kind: bytes, value: Any) -> Any:
    return sorted(value) if kind == b"set" else value


def assert_same(before: Snapshot, after: Snapshot, ttl_tolerance_ms: int) -> None:
    """Same keys, types and values; TTLs equal or shrunk by at most the tolerance."""
    assert after.keys() == before.keys(), (
        f"missing {len(before.keys() - after.keys())}, extra {len(after.keys() - before.keys())}"
    )
    for key, (kind, value, ttl) in before.items():
        kind_after, value_after, ttl_after = after[key]
        assert (kind_after, value_after) == (kind, value), key
        if ttl < 0:
            assert ttl_after == ttl, key
        else:
            assert ttl - ttl_tolerance_ms <= ttl_after <= ttl, (key, ttl, ttl_after)
