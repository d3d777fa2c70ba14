"""Values on the wire: a value's bytes and Content-Type for a PUT, and the
batch routes' JSON for one value (an _mget hit read back, an _mset entry
written: UTF-8 text when the bytes are, else base64)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from roleready_cache_client.results import Entry, NewValue, Source

TEXT = "text/plain; charset=utf-8"
BYTES = "application/octet-stream"
BATCH_SOURCES: dict[str, Source] = {"memory": "hit-memory", "redis": "hit-redis"}


def encode(value: bytes | str, content_type: str | None) -> tuple[bytes, str]:
    """The bytes to send and their Content-Type (text for str, else bytes)."""
    if isinstance(value, str):
        return value.encode(), content_type or TEXT
    return bytes(value), content_type or BYTES


def batch_entry(key: str, hit: Mapping[str, str], degraded: bool) -> Entry:
    raw = hit["value"]
    value = base64.b64decode(raw) if hit["encoding"] == "base64" else raw.encode()
    return Entry(key=key, value=value, content_type=hit["contentType"],
                 source=BATCH_SOURCES.get(hit["source"], "hit-redis"), degraded=degraded)


def batch_value(item: bytes | str | NewValue, ttl_ms: int | None) -> dict[str, Any]:
    """One _mset entry: UTF-8 text when the bytes are, else base64."""
    new = item if isinstance(item, NewValue) else NewValue(item)
    body, content_type = encode(new.value, new.content_type)
    try:
        entry: dict[str, Any] = {"value": body.decode(), "encoding": "utf-8"}
    except UnicodeDecodeError:
        entry = {"value": base64.b64encode(body).decode(), "encoding": "base64"}
    entry["contentType"] = content_type
    chosen = new.ttl_ms if new.ttl_ms is not None else ttl_ms
    if chosen is not None:
        entry["ttl_ms"] = int(chosen)
    return entry
