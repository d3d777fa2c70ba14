"""`_mget`'s answer joined from JSON fragments, a memory hit's encoded once.

    hits ─► a memory hit whose fragment is kept (same stored bytes object,
            type and key) ─► that fragment, as it is
         ─► any other hit (Redis's, a new value) ─► one object, encoded with
            the others in one orjson call; a memory hit's fragment is kept
    answer = {"hits":{<fragments joined by ",">},"misses":[...],"unread":[...]}

Why: a memory hit's JSON is the same on every batch that carries it; before,
each answer decoded every value and built and encoded an object per key.
The bytes are exactly what encoding the whole answer with orjson gives
(tests/service/test_batch_fragments.py holds the two to it).

A fragment is reused only for the very bytes object it was made from (the
memory tier keeps one per stored value; identity cannot be faked while the
fragment holds a reference to it), so a rewritten value is never answered
from an old fragment. Kept: up to MAX_BYTES of fragments, all dropped at
once past it (the next batches encode theirs again).
"""

from __future__ import annotations

import base64

import orjson

from service.cache.batch import Hit
from service.cache.two_tier import Source

MAX_BYTES = 8 << 20
# The cache's Source values as the answer names them.
SOURCES = {Source.MEMORY: "memory", Source.REDIS: "redis"}
# The stored bytes object, the type and the key's encoded member.
Kept = tuple[bytes, str, bytes]


def hit_object(value: bytes, content_type: str, source: str) -> dict[str, str]:
    """One hit as the answer shows it: UTF-8 text when it is, else base64."""
    try:
        text, encoding = value.decode(), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(value).decode(), "base64"
    return {"value": text, "encoding": encoding, "contentType": content_type,
            "source": SOURCES[source]}


class Fragments:
    """One service's kept fragments of memory hits, by key."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._kept: dict[str, Kept] = {}
        self._bytes = 0

    def answer(self, hits: dict[str, Hit], misses: list[str], unread: list[str]) -> bytes:
        """The whole `_mget` answer's JSON (batch.get_many's hits: memory's
        first, then Redis's, which are encoded in one call)."""
        parts: list[bytes] = []
        others: dict[str, dict[str, str]] = {}
        kept, memory = self._kept, Source.MEMORY
        for key, (value, content_type, source) in hits.items():
            if source != memory:
                others[key] = hit_object(value, content_type, source)
                continue
            found = kept.get(key)
            if found is None or found[0] is not value or found[1] != content_type:
                found = self._keep(key, value, content_type)
            parts.append(found[2])
        if others:
            parts.append(orjson.dumps(others)[1:-1])
        return b"".join((b'{"hits":{', b",".join(parts), b'},"misses":', orjson.dumps(misses),
                         b',"unread":', orjson.dumps(unread), b"}"))

    def _keep(self, key: str, value: bytes, content_type: str) -> Kept:
        """A memory hit's member, encoded and kept."""
        member = orjson.dumps({key: hit_object(value, content_type, Source.MEMORY)})[1:-1]
        if self._bytes + len(member) > self.max_bytes:
            self._kept.clear()
            self._bytes = 0
        old = self._kept.get(key)
        if old is not None:
            self._bytes -= len(old[2])
        found = self._kept[key] = (value, content_type, member)
        self._bytes += len(member)
        return found

    def __len__(self) -> int:
        return len(self._kept)

