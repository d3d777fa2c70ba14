"""`_mget`'s answer joined from JSON fragments, each hit's encoded once.

    memory hit ─► a fragment kept for its very entry (the same Entry object
                  under the key) ─► that fragment, as it is
    Redis hit  ─► a fragment kept for its very value (the same bytes object
                  and content type under the key: service.cache.decodings
                  hands back the same object for the same stored bytes)
                  ─► that fragment
    any other  ─► encoded (orjson) and kept
    answer = {"hits":{<fragments joined by ",">},"misses":[...],"unread":[...]}

Why: a hit's JSON is the same on every batch that carries it; before,
each answer decoded every value and built and encoded an object per key.
The bytes are exactly what encoding the whole answer with orjson gives
(tests/service/test_batch_fragments.py holds the two to it).

A fragment is reused only for the very object it was made from (the memory
tier makes a new Entry on every write and fill, a new decoding of other
bytes is a new bytes object, and identity cannot be faked while the
fragment holds a reference to it), so a rewritten value is never answered
from an old fragment. Kept: up to MAX_BYTES of fragments, all dropped at
once past it (the next batches encode theirs again).
"""

from __future__ import annotations

import base64

import orjson

from service.cache import decodings
from service.cache.batch import Hit
from service.cache.entry import Entry
from service.speedups import members

MAX_BYTES = 8 << 20


def hit_object(value: bytes, content_type: str, source: str) -> dict[str, str]:
    """One hit as the answer shows it: UTF-8 text when it is, else base64."""
    try:
        text, encoding = value.decode(), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(value).decode(), "base64"
    return {"value": text, "encoding": encoding, "contentType": content_type,
            "source": source}


class Fragments:
    """One service's kept fragments of hits, by key and tier."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        # key -> (the entry, its member) for memory hits; key -> (the value,
        # its content type, its member) for Redis hits.
        self._memory: dict[str, tuple[Entry, bytes]] = {}
        self._redis: dict[str, tuple[bytes, str, bytes]] = {}
        self._bytes = 0

    def answer(self, memory: dict[str, Entry], redis: dict[str, Hit], misses: list[str],
               unread: list[str]) -> bytes:
        """The whole `_mget` answer's JSON (batch.get_many's hits: memory's
        first, then Redis's)."""
        parts = members(self._memory, memory, self._keep_memory)  # in C where built
        if redis:
            append = parts.append
            seen = self._redis
            for key, (value, content_type) in redis.items():
                known = seen.get(key)
                append(known[2] if known is not None and known[0] is value
                       and known[1] == content_type
                       else self._keep_redis(key, value, content_type))
        return b"".join((b'{"hits":{', b",".join(parts), b'},"misses":', orjson.dumps(misses),
                         b',"unread":', orjson.dumps(unread), b"}"))

    def _keep_memory(self, key: str, entry: Entry) -> bytes:
        member = _member(key, entry.value, entry.content_type, "memory")
        self._count(len(member), self._memory.get(key))
        self._memory[key] = (entry, member)
        return member

    def _keep_redis(self, key: str, value: bytes, content_type: str) -> bytes:
        member = _member(key, value, content_type, "redis")
        if len(value) > decodings.MAX_VALUE_BYTES:
            return member  # decoded anew on every read: never the same object
        self._count(len(member), self._redis.get(key))
        self._redis[key] = (value, content_type, member)
        return member

    def _count(self, size: int, old: tuple[object, ...] | None) -> None:
        """A member of `size` bytes is about to replace `old`; past
        MAX_BYTES, everything kept goes first."""
        if self._bytes + size > self.max_bytes:
            self._memory.clear()
            self._redis.clear()
            self._bytes = 0
        elif old is not None:
            member = old[-1]
            assert isinstance(member, bytes)
            self._bytes -= len(member)
        self._bytes += size

    def __len__(self) -> int:
        return len(self._memory) + len(self._redis)


def _member(key: str, value: bytes, content_type: str, source: str) -> bytes:
    """A hit's `"key":{...}` member of the answer's "hits"."""
    return orjson.dumps({key: hit_object(value, content_type, source)})[1:-1]
