"""A batch body's shape is bounded before parsing: every body a batch of
CACHE_BATCH_MAX_KEYS keys can need passes, and bodies that would become far
more Python objects than that are refused on their bytes."""

from __future__ import annotations

import orjson
import pytest

from service.http.batch_shape import too_complex

MAX_KEYS = 1000
# Values full of what the pre-scan counts: commas, brackets, escaped quotes
# and backslashes inside strings must not count.
NASTY_VALUE = '{"a": [1, 2, {"b": "c, \\"d\\" \\\\"}]}, [[[,,,]]]' * 20


def test_the_largest_legitimate_bodies_pass() -> None:
    keys = orjson.dumps({"keys": [f"key:{i}" for i in range(MAX_KEYS)]})
    entries = orjson.dumps({"entries": {
        f"key:{i}": {"value": NASTY_VALUE, "encoding": "utf-8",
                     "contentType": "application/json", "ttl_ms": 1000}
        for i in range(MAX_KEYS)}})
    assert not too_complex(keys, MAX_KEYS)
    assert not too_complex(entries, MAX_KEYS)
    assert not too_complex(b'{"keys": []}', MAX_KEYS)


@pytest.mark.parametrize("body", [
    b'{"keys": [' + b",".join([b"{}"] * 20_000) + b"]}",
    b'{"keys": [' + b",".join([b"0"] * 20_000) + b"]}",
    b'{"keys": [' + b",".join([b'"k"'] * 20_000) + b"]}",
    b'{"keys": ' + b"[" * 20_000 + b"]" * 20_000 + b"}",
    b'{"entries": {' + b",".join(b'"k%d": {"value": ""}' % i for i in range(MAX_KEYS * 10)) + b"}}",
])
def test_bodies_of_many_small_values_are_refused(body: bytes) -> None:
    assert too_complex(body, MAX_KEYS)


def test_quotes_hidden_by_escapes_do_not_hide_structure() -> None:
    """`\\"` is not a string's end: structure after it is still counted."""
    hidden = b'{"keys": ["a\\"", ' + b",".join([b"[]"] * 20_000) + b"]}"
    assert too_complex(hidden, MAX_KEYS)


async def test_the_service_refuses_a_body_of_tiny_objects_before_parsing(app_client) -> None:  # type: ignore[no-untyped-def]
    client = await app_client("")
    body = b'{"keys": [' + b",".join([b"{}"] * 300_000) + b"]}"  # ~1 MiB
    answer = await client.post("/cache/default/_mget", data=body)
    assert answer.status == 400 and (await answer.json())["error"] == "bad_body"
