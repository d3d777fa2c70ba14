"""How a value and what is known about it are stored together in one Redis string.

    v3 (written, tagged): 0x03 | the v2 header | content type | tag count u8
                   | per tag: length u8 | tag | record seen u64 | body
    v2 (written):  0x02 | stored_at_ms u64 | expires_at_ms u64 | version 8 bytes
                   | content-type length u8 | content type | body
    v1 (read):     0x01 | content type | "\\n" | body

A value with tags is written as v3, every other as v2 (so an untagged value
reads exactly as before, and a release that predates tags still reads it).
Each tag carries what its writer knew of the tag's record when it wrote
(service.cache.tags: the value is dropped once the record has moved past it).

Integers are big-endian; the v2 header is a fixed 26 bytes, read with one
precompiled struct (every Redis hit decodes). One string means one SET PX to
write and one GET to read; docs/design.md's "Stored format" has the table.

`expires_at_ms` is the value's logical expiry (the end of its TTL), carried
in the value because the Redis key's own expiry may later cover a stale
window beyond it. `version` is 64 random bits per PUT: an ETag that differs
between two PUTs of the same body on any instance, with no counter to
coordinate across a fleet (two versions of one key collide with probability
2^-64). They come from `random` (Mersenne Twister, seeded from the OS and
reseeded in a forked worker by the module itself): an ETag needs to be
distinct, not unguessable, and this costs ~0.1 us where os.urandom costs
~0.45 us. A v1 value has no times; its version is derived from its bytes
(SHA-256, first 8 bytes; hardware-accelerated where OpenSSL can, ~0.5 us per
KiB here), so it still gets an ETag, the same one on every instance. That
hash is paid once per Redis hit of a v1 value (a memory hit reads the kept
one), and only until the fleet has rewritten or expired its v1 values.
"""

from __future__ import annotations

import hashlib
import random
import struct
from typing import NamedTuple

FORMAT_V1 = b"\x01"
FORMAT_V2 = b"\x02"
FORMAT_V3 = b"\x03"
_SEPARATOR = b"\n"
# Format byte, stored at, logical expiry, version, content-type length.
_V2_HEADER = struct.Struct(">cQQ8sB")
_SEEN = struct.Struct(">Q")
# A tag and what its writer knew of the tag's record (service.cache.tags).
Tagged = tuple[tuple[str, int], ...]
VERSION_BYTES = 8
# The content type's length is one byte (the HTTP API accepts at most 255
# printable ASCII characters, http/entries.py MAX_CONTENT_TYPE_CHARS).
MAX_CONTENT_TYPE_BYTES = 255


class UndecodableValue(ValueError):
    """Bytes in Redis under our prefix that this service did not write."""


class Stamp(NamedTuple):
    """What a PUT knows about its value besides its body and type; one is
    shared by the memory entry and the Redis value of that PUT."""

    # Wall-clock milliseconds since the epoch; None for a v1 value.
    stored_at_ms: int | None
    # Wall-clock end of the TTL (milliseconds since the epoch); None for v1.
    expires_at_ms: int | None
    # The ETag's material: VERSION_BYTES bytes in Redis, kept here as their
    # lowercase hex text, so that a memory hit's ETag is a concatenation,
    # not a conversion, on every hit.
    version: str
    # The value's tags, each with the record value its writer saw (empty:
    # untagged, the v2 format).
    tags: Tagged = ()


# A decoded value: its body, content type and stamp.
Decoded = tuple[bytes, str, Stamp]


def new_stamp(wall_s: float, ttl_ms: int, tags: Tagged = ()) -> Stamp:
    """The stamp of a PUT made at `wall_s` (epoch seconds, the injected clock's)."""
    stored_at_ms = int(wall_s * 1000)
    version = f"{random.getrandbits(8 * VERSION_BYTES):0{2 * VERSION_BYTES}x}"
    return Stamp(stored_at_ms, stored_at_ms + ttl_ms, version, tags)


def encode(value: bytes, content_type: str, stamp: Stamp) -> bytes:
    """The v3 string of a tagged value, the v2 string of any other."""
    stored_at, expires_at = stamp.stored_at_ms, stamp.expires_at_ms
    if stored_at is None or expires_at is None:
        raise ValueError("a v1 value's stamp has no times to write: make a new one")
    kind = content_type.encode("latin-1")
    if len(kind) > MAX_CONTENT_TYPE_BYTES:
        raise ValueError(f"content type longer than {MAX_CONTENT_TYPE_BYTES} bytes")
    version = bytes.fromhex(stamp.version)
    if not stamp.tags:
        header = _V2_HEADER.pack(FORMAT_V2, stored_at, expires_at, version, len(kind))
        return b"".join((header, kind, value))
    header = _V2_HEADER.pack(FORMAT_V3, stored_at, expires_at, version, len(kind))
    parts = [header, kind, bytes((len(stamp.tags),))]
    for tag, seen in stamp.tags:
        name = tag.encode("ascii")
        parts += (bytes((len(name),)), name, _SEEN.pack(seen))
    parts.append(value)
    return b"".join(parts)


def encode_v1(value: bytes, content_type: str) -> bytes:
    """The v1 string: no longer written by the service; kept as the
    definition of what it still reads (and for the tests that write one)."""
    return b"".join((FORMAT_V1, content_type.encode("latin-1"), _SEPARATOR, value))


def decode(raw: bytes) -> Decoded:
    """The body, content type and stamp of any version this service ever
    wrote; UndecodableValue for anything else. (A plain tuple: a NamedTuple
    would cost a fifth of the decoding, on every Redis hit.)"""
    fmt = raw[:1]
    if fmt == FORMAT_V2 or fmt == FORMAT_V3:
        if len(raw) < _V2_HEADER.size:
            raise UndecodableValue("truncated v2 header")
        _, stored_at, expires_at, version, length = _V2_HEADER.unpack_from(raw)
        start = _V2_HEADER.size
        end = start + length
        if len(raw) < end or expires_at < stored_at:
            raise UndecodableValue("garbled v2 header")
        content_type = raw[start:end].decode("latin-1")
        if fmt == FORMAT_V3:
            tags, end = _tags(raw, end)
            return raw[end:], content_type, Stamp(stored_at, expires_at, version.hex(), tags)
        return raw[end:], content_type, Stamp(stored_at, expires_at, version.hex())
    if fmt == FORMAT_V1:
        end = raw.find(_SEPARATOR, 1)
        if end < 0:
            raise UndecodableValue("missing content type separator")
        digest = hashlib.sha256(raw).hexdigest()[: 2 * VERSION_BYTES]
        return raw[end + 1 :], raw[1:end].decode("latin-1"), Stamp(None, None, digest)
    raise UndecodableValue("unknown value format")


def _tags(raw: bytes, at: int) -> tuple[Tagged, int]:
    """A v3 value's tags starting at `at`, and where its body starts."""
    try:
        count = raw[at]
        at += 1
        tags = []
        for _ in range(count):
            length = raw[at]
            name = raw[at + 1 : at + 1 + length].decode("ascii")
            at += 1 + length
            (seen,) = _SEEN.unpack_from(raw, at)
            at += _SEEN.size
            tags.append((name, seen))
    except (IndexError, struct.error, UnicodeDecodeError) as exc:
        raise UndecodableValue("garbled v3 tags") from exc
    return tuple(tags), at
