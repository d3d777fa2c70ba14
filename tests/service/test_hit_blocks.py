"""HitBlocks gives exactly the headers hit_headers + add_freshness build per
request, at every instant: across Age's seconds, on their boundaries, with a
clock that stepped back, for v1 values, and for a new value under a key."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from service.cache.codec import Stamp, new_stamp
from service.cache.two_tier import Source
from service.http.cache_api import _memory_hit_headers, hit_headers
from service.http.freshness import add_freshness
from service.http.hit_blocks import MAX_BLOCKS, HitBlocks

PUT_AT_S = 1_765_000_000.123


def per_request(content_type: str, stamp: Stamp, now_s: float) -> list[tuple[str, str]]:
    headers = hit_headers(content_type, Source.MEMORY, False)
    add_freshness(headers, stamp, now_s)
    return list(headers.items())


def instants(stored_s: float) -> list[float]:
    """Before, at and around the PUT and each of the next seconds' boundaries."""
    found = [stored_s - 5.0, stored_s - 1e-6, stored_s]
    for whole in range(4):
        edge = stored_s + whole
        found += [edge - 1e-6, edge, edge + 1e-6, edge + 0.5]
    return found + [stored_s + 3600.25, stored_s + 1.0]  # and back in time


@pytest.mark.parametrize("content_type", ["application/json", "text/html; charset=utf-8"])
def test_same_headers_as_per_request_at_every_instant(content_type: str) -> None:
    blocks = HitBlocks(_memory_hit_headers)
    stamp = new_stamp(PUT_AT_S, 90_000)
    for now_s in instants(stamp.stored_at_ms / 1000):  # type: ignore[operator]
        got = blocks.headers(content_type, stamp, now_s)
        assert list(got.items()) == per_request(content_type, stamp, now_s), now_s


def test_v1_value_has_no_age_and_a_new_value_new_headers() -> None:
    blocks = HitBlocks(_memory_hit_headers)
    v1 = Stamp(None, None, "00ff00ff00ff00ff")
    assert list(blocks.headers("text/plain", v1, PUT_AT_S).items()) == per_request(
        "text/plain", v1, PUT_AT_S)
    # The same version under another PUT (a v1 value's bytes rewritten as
    # v2) and another type: rebuilt, not the old block.
    v2 = Stamp(int(PUT_AT_S * 1000), int(PUT_AT_S * 1000) + 5_000, v1.version)
    later = PUT_AT_S + 2.5
    assert list(blocks.headers("image/svg+xml", v2, later).items()) == per_request(
        "image/svg+xml", v2, later)


def test_copies_are_independent_and_the_store_bounded() -> None:
    blocks = HitBlocks(_memory_hit_headers)
    stamp = new_stamp(PUT_AT_S, 1_000)
    first = blocks.headers("a/b", stamp, PUT_AT_S)
    first["Content-Length"] = "3"  # aiohttp adds to an answer's headers
    assert "Content-Length" not in blocks.headers("a/b", stamp, PUT_AT_S)
    for _ in range(MAX_BLOCKS + 1):
        blocks.headers("a/b", new_stamp(PUT_AT_S, 1_000), PUT_AT_S)
    assert len(blocks._blocks) <= MAX_BLOCKS
    assert isinstance(blocks.headers("a/b", stamp, PUT_AT_S), CIMultiDict)
