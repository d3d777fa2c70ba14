"""Fragments gives, byte for byte, what encoding the whole `_mget` answer
with orjson gave, and never answers a rewritten value from an old fragment."""

from __future__ import annotations

import base64

import orjson

from service.cache.batch import Hit
from service.cache.entry import Entry
from service.http.batch_fragments import Fragments


def entry(value: bytes, content_type: str) -> Entry:
    return Entry(value, content_type, 0.0, False, 0)


def whole(memory: dict[str, Entry], redis: dict[str, Hit], misses: list[str],
          unread: list[str]) -> bytes:
    """The answer as it was encoded before fragments."""
    shown = {}
    hits = [(key, (e.value, e.content_type), "memory") for key, e in memory.items()]
    hits += [(key, hit, "redis") for key, hit in redis.items()]
    for key, (value, content_type), source in hits:
        try:
            text, encoding = value.decode(), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(value).decode(), "base64"
        shown[key] = {"value": text, "encoding": encoding, "contentType": content_type,
                      "source": source}
    return orjson.dumps({"hits": shown, "misses": misses, "unread": unread})


def test_the_same_bytes_as_the_whole_answer_encoded_again_and_again() -> None:
    fragments = Fragments()
    memory = {"a": entry(b'{"x": "\\u00e9\\n"}', "application/json"),
              "b:1": entry(bytes(range(256)), "application/octet-stream")}
    redis = {"c": ("é\"\n".encode(), "text/plain"), "d": (b"\xff", "x/y")}
    for _ in range(3):  # encoded, then kept
        assert fragments.answer(memory, redis, ["m"], ["u", "v"]) == whole(
            memory, redis, ["m"], ["u", "v"])
    assert len(fragments) == 4  # each hit's fragment, kept
    assert fragments.answer({}, {}, [], []) == whole({}, {}, [], [])


def test_kept_and_new_fragments_mix_in_the_order_asked() -> None:
    fragments = Fragments()
    memory = {f"k{i}": entry(b"v%d" % i, "text/plain") for i in range(6)}
    fragments.answer({key: memory[key] for key in ("k1", "k3", "k4")}, {}, [], [])
    assert fragments.answer(memory, {}, [], []) == whole(memory, {}, [], [])
    assert fragments.answer(memory, {}, [], []) == whole(memory, {}, [], [])


def test_a_rewritten_value_or_type_is_never_answered_from_an_old_fragment() -> None:
    fragments = Fragments()
    fragments.answer({"k": entry(b"old", "text/plain")}, {}, [], [])
    for memory in ({"k": entry(b"new", "text/plain")},
                   {"k": entry(b"old", "text/html")},
                   {"k": entry(bytes(bytearray(b"old")), "text/plain")}):
        assert fragments.answer(memory, {}, [], []) == whole(memory, {}, [], [])
    old = b"old"
    for redis in ({"k": (old, "text/plain")}, {"k": (b"new", "text/plain")},
                  {"k": (old, "text/html")}, {"k": (bytes(bytearray(b"new")), "text/html")}):
        assert fragments.answer({}, redis, [], []) == whole({}, redis, [], [])


def test_kept_fragments_stay_within_their_bytes() -> None:
    fragments = Fragments(max_bytes=1_000)
    for i in range(100):
        memory = {f"k{i}": entry(b"v" * 50, "text/plain")}
        assert fragments.answer(memory, {}, [], []) == whole(memory, {}, [], [])
        assert fragments._bytes <= 1_000
    assert 0 < len(fragments) < 100
