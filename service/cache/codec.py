"""How a value and its content type are stored together in one Redis string.

Layout: version byte, content type, newline, body. A header line cannot
contain a newline (HTTP forbids it), so the first newline always ends it.
One string means one SET PX to write and one GET to read.
"""

from __future__ import annotations

FORMAT_V1 = b"\x01"
_SEPARATOR = b"\n"


class UndecodableValue(ValueError):
    """Bytes in Redis under our prefix that this service did not write."""


def encode(value: bytes, content_type: str) -> bytes:
    return b"".join((FORMAT_V1, content_type.encode("latin-1"), _SEPARATOR, value))


def decode(raw: bytes) -> tuple[bytes, str]:
    if raw[:1] != FORMAT_V1:
        raise UndecodableValue("unknown value format")
    end = raw.find(_SEPARATOR, 1)
    if end < 0:
        raise UndecodableValue("missing content type separator")
    return raw[end + 1 :], raw[1:end].decode("latin-1")
