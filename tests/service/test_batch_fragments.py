"""Fragments gives, byte for byte, what encoding the whole `_mget` answer
with orjson gave, and never answers a rewritten value from an old fragment."""

from __future__ import annotations

import base64

import orjson

from service.cache.two_tier import Source
from service.http.batch_fragments import Fragments

NAMES = {Source.MEMORY: "memory", Source.REDIS: "redis"}


def whole(hits: dict[str, tuple[bytes, str, str]], misses: list[str],
          unread: list[str]) -> bytes:
    """The answer as it was encoded before fragments."""
    shown = {}
    for key, (value, content_type, source) in hits.items():
        try:
            text, encoding = value.decode(), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(value).decode(), "base64"
        shown[key] = {"value": text, "encoding": encoding, "contentType": content_type,
                      "source": NAMES[source]}
    return orjson.dumps({"hits": shown, "misses": misses, "unread": unread})


def test_the_same_bytes_as_the_whole_answer_encoded_again_and_again() -> None:
    fragments = Fragments()
    hits = {"a": (b'{"x": "\\u00e9\\n"}', "application/json", Source.MEMORY),
            "b:1": (bytes(range(256)), "application/octet-stream", Source.MEMORY),
            "c": ("é\"\n".encode(), "text/plain", Source.REDIS),
            "d": (b"\xff", "x/y", Source.REDIS)}
    for _ in range(3):  # encoded, then kept
        assert fragments.answer(hits, ["m"], ["u", "v"]) == whole(hits, ["m"], ["u", "v"])
    assert len(fragments) == 2  # memory hits only
    assert fragments.answer({}, [], []) == whole({}, [], [])


def test_a_rewritten_value_or_type_is_never_answered_from_an_old_fragment() -> None:
    fragments = Fragments()
    first = {"k": (b"old", "text/plain", Source.MEMORY)}
    fragments.answer(first, [], [])
    for hits in ({"k": (b"new", "text/plain", Source.MEMORY)},
                 {"k": (bytes(bytearray(b"old")), "text/html", Source.MEMORY)},
                 {"k": (b"old", "text/plain", Source.REDIS)}):
        assert fragments.answer(hits, [], []) == whole(hits, [], [])


def test_kept_fragments_stay_within_their_bytes() -> None:
    fragments = Fragments(max_bytes=1_000)
    for i in range(100):
        hits = {f"k{i}": (b"v" * 50, "text/plain", Source.MEMORY)}
        assert fragments.answer(hits, [], []) == whole(hits, [], [])
        assert fragments._bytes <= 1_000
    assert 0 < len(fragments) < 100
