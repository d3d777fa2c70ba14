"""The stored format (service/cache/codec.py): v2 written, v1 still read,
anything else refused; and what decoding costs against v1's."""

from __future__ import annotations

import pytest

from service.cache import codec
from service.cache.codec import Stamp, UndecodableValue

WALL_S = 1_800_000_000.25


def test_v2_round_trips_body_type_and_stamp() -> None:
    stamp = codec.new_stamp(WALL_S, 60_000)
    assert stamp.stored_at_ms == 1_800_000_000_250
    assert stamp.expires_at_ms == 1_800_000_060_250
    assert len(bytes.fromhex(stamp.version)) == codec.VERSION_BYTES
    for body in (b"", b"\n\x00\x01\x02", bytes(range(256)) * 10):
        raw = codec.encode(body, "application/json; charset=utf-8", stamp)
        assert codec.decode(raw) == (body, "application/json; charset=utf-8", stamp)


def test_the_v2_layout_is_the_documented_one() -> None:
    stamp = Stamp(0x0102030405060708, 0x1112131415161718, b"ABCDEFGH".hex())
    raw = codec.encode(b"body", "text/plain", stamp)
    assert raw == (
        b"\x02" + bytes.fromhex("0102030405060708") + bytes.fromhex("1112131415161718")
        + b"ABCDEFGH" + bytes([10]) + b"text/plain" + b"body"
    )


def test_v1_is_still_read_with_a_version_derived_from_its_bytes() -> None:
    raw = codec.encode_v1(b"old", "text/plain")
    assert raw == b"\x01text/plain\nold"
    body, content_type, stamp = codec.decode(raw)
    assert (body, content_type, stamp.stored_at_ms, stamp.expires_at_ms) == (
        b"old", "text/plain", None, None
    )
    # The same bytes give the same version (on every instance), others another.
    assert stamp.version == codec.decode(bytes(raw))[2].version
    assert stamp.version != codec.decode(codec.encode_v1(b"new", "text/plain"))[2].version
    assert len(bytes.fromhex(stamp.version)) == codec.VERSION_BYTES


def test_two_stamps_of_the_same_moment_have_different_versions() -> None:
    versions = {codec.new_stamp(WALL_S, 1000).version for _ in range(1000)}
    assert len(versions) == 1000


def _v2(body: bytes = b"body") -> bytes:
    return codec.encode(body, "text/plain", codec.new_stamp(WALL_S, 1000))


# Named ids: a v2 value's version is random, and ids made from the bytes
# would differ between processes (pytest-xdist's workers must agree).
@pytest.mark.parametrize("raw", [
    b"",
    b"\x03anything",
    b"\x00",
    b"\x01no separator",
    _v2()[:25],  # the fixed header cut short
    _v2()[:30],  # the content type cut short
    b"\x02" + b"\x00" * 24 + b"\xff" + b"short",  # a length beyond the value
    b"\x02" + (2).to_bytes(8, "big") + (1).to_bytes(8, "big") + b"v" * 8 + b"\x00",  # expiry before store
    b"{\"a\": 1}",  # a JSON string another program wrote
], ids=["empty", "unknown-version", "v0", "v1-no-separator", "v2-header-cut", "v2-type-cut",
        "v2-length-beyond", "v2-expiry-before-store", "json"])
def test_truncated_or_garbled_values_are_undecodable(raw: bytes) -> None:
    with pytest.raises(UndecodableValue):
        codec.decode(raw)


def test_encoding_refuses_what_the_layout_cannot_hold() -> None:
    with pytest.raises(ValueError):
        codec.encode(b"v", "x" * 256, codec.new_stamp(WALL_S, 1000))
    with pytest.raises(ValueError):  # a v1 value's stamp: no times to write
        codec.encode(b"v", "text/plain", Stamp(None, None, b"12345678".hex()))


def test_a_tagged_value_is_v3_with_each_tag_and_what_its_writer_saw() -> None:
    tags = (("candidate:42", 0), ("job:7", 1_800_000_000_123_456))
    stamp = Stamp(0x0102030405060708, 0x1112131415161718, b"ABCDEFGH".hex(), tags)
    raw = codec.encode(b"body", "text/plain", stamp)
    assert raw == (
        b"\x03" + bytes.fromhex("0102030405060708") + bytes.fromhex("1112131415161718")
        + b"ABCDEFGH" + bytes([10]) + b"text/plain" + bytes([2])
        + bytes([12]) + b"candidate:42" + (0).to_bytes(8, "big")
        + bytes([5]) + b"job:7" + (1_800_000_000_123_456).to_bytes(8, "big") + b"body"
    )
    assert codec.decode(raw) == (b"body", "text/plain", stamp)
    # Untagged stays v2, byte for byte what a release without tags reads.
    assert codec.encode(b"body", "text/plain", stamp._replace(tags=()))[:1] == b"\x02"


@pytest.mark.parametrize("length", [36, 37, 45, 58, 64, 71])
def test_a_truncated_v3_value_is_undecodable(length: int) -> None:
    stamp = codec.new_stamp(WALL_S, 60_000, (("candidate:42", 5), ("job:7", 9)))
    raw = codec.encode(b"", "text/plain", stamp)
    assert len(raw) == 72  # header 26, type 10, count 1, tags 21 + 14, no body
    with pytest.raises(UndecodableValue):
        codec.decode(raw[:length])
