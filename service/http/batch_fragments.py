"""`_mget`'s answer joined from JSON fragments, a memory hit's encoded once.

    memory hits ─► each one's fragment kept for its very entry (same Entry
                   object under the same key) ─► that fragment, as it is
                ─► any other ─► encoded and kept
    Redis hits ─► one object each, all encoded in one orjson call
    answer = {"hits":{<fragments joined by ",">},"misses":[...],"unread":[...]}

Why: a memory hit's JSON is the same on every batch that carries it; before,
each answer decoded every value and built and encoded an object per key.
The bytes are exactly what encoding the whole answer with orjson gives
(tests/service/test_batch_fragments.py holds the two to it).

A fragment is reused only for the very memory entry it was made from (the
tier makes a new Entry on every write and fill, and identity cannot be
faked while the fragment holds a reference to it), so a rewritten value is
never answered from an old fragment. Kept: up to MAX_BYTES of fragments,
all dropped at once past it (the next batches encode theirs again).
"""

from __future__ import annotations

import base64

import orjson

from service.cache.batch import Hit
from service.cache.entry import Entry

MAX_BYTES = 8 << 20
# The memory entry a fragment was made from, and the key's encoded member.
Kept = tuple[Entry, bytes]


def hit_object(value: bytes, content_type: str, source: str) -> dict[str, str]:
    """One hit as the answer shows it: UTF-8 text when it is, else base64."""
    try:
        text, encoding = value.decode(), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(value).decode(), "base64"
    return {"value": text, "encoding": encoding, "contentType": content_type,
            "source": source}


def _shown(redis: dict[str, Hit]) -> dict[str, dict[str, str]]:
    """Redis's hits as the answer shows them: built inline while every
    value is UTF-8 (no call per key), else a key at a time."""
    try:
        return {key: {"value": value.decode(), "encoding": "utf-8", "contentType": content_type,
                      "source": "redis"} for key, (value, content_type) in redis.items()}
    except UnicodeDecodeError:
        return {key: hit_object(value, content_type, "redis")
                for key, (value, content_type) in redis.items()}


class Fragments:
    """One service's kept fragments of memory hits, by key."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._kept: dict[str, Kept] = {}
        self._bytes = 0

    def answer(self, memory: dict[str, Entry], redis: dict[str, Hit], misses: list[str],
               unread: list[str]) -> bytes:
        """The whole `_mget` answer's JSON (batch.get_many's hits: memory's
        first, then Redis's, which are encoded in one call)."""
        parts: list[bytes] = []
        append = parts.append
        kept = self._kept
        for key, entry in memory.items():
            found = kept.get(key)
            append(found[1] if found is not None and found[0] is entry else self._keep(key, entry))
        if redis:
            append(orjson.dumps(_shown(redis))[1:-1])
        return b"".join((b'{"hits":{', b",".join(parts), b'},"misses":', orjson.dumps(misses),
                         b',"unread":', orjson.dumps(unread), b"}"))

    def _keep(self, key: str, entry: Entry) -> bytes:
        """A memory hit's member, encoded and kept."""
        member = orjson.dumps({key: hit_object(entry.value, entry.content_type, "memory")})[1:-1]
        if self._bytes + len(member) > self.max_bytes:
            self._kept.clear()
            self._bytes = 0
        old = self._kept.get(key)
        if old is not None:
            self._bytes -= len(old[1])
        self._kept[key] = (entry, member)
        self._bytes += len(member)
        return member

    def __len__(self) -> int:
        return len(self._kept)
