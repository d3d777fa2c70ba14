"""The outbox's state file format: what one record is, and how a file is read.

    file    = HEADER, then records appended one after another
    record  = body length u32 | CRC-32 of body u32 | body       (big-endian)
    body    = JSON length u32 | JSON (orjson) | value bytes (a PUT kept for
              CACHE_OUTAGE_REPLAY=write; empty otherwise)

The JSON says what happened: `t` the operation ("put", "delete", "settle":
a later operation reached Redis and nothing is owed for the key, "purge":
the namespace is swept, "tag": the tag named by `key` was invalidated), `k` the kind of entry ("outage": accepted while
Redis was unreachable; other kinds may follow, and a reader skips kinds and
operations it does not know), `ns`, `key`, `at` (wall ms when recorded),
and for a PUT with its value: `ct`, the stamp (`sa`, `ex`, `v`) and `until`
(wall ms until which this instance would have kept it).

A process killed in the middle of an append leaves a short or garbled last
record: the reader keeps every whole record before it and says how many
bytes it ignored; it never raises for what a file contains.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

HEADER = b"roleready-cache outbox v1\n"
_FRAME = struct.Struct(">II")
_LENGTH = struct.Struct(">I")
OUTAGE = "outage"
PUT, DELETE, SETTLE, PURGE, TAG = "put", "delete", "settle", "purge", "tag"
OPERATIONS = frozenset({PUT, DELETE, SETTLE, PURGE, TAG})
KINDS = frozenset({OUTAGE})


class Record(NamedTuple):
    op: str
    namespace: str
    key: str | None
    at_ms: int
    kind: str = OUTAGE
    # A PUT's value and what goes with it (None: replayed as a DEL).
    value: bytes | None = None
    fields: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return f"{self.namespace}:{self.key}"


def encode(record: Record) -> bytes:
    head: dict[str, Any] = {"t": record.op, "k": record.kind, "ns": record.namespace,
                            "at": record.at_ms}
    if record.key is not None:
        head["key"] = record.key
    if record.fields:
        head.update(record.fields)
    meta = orjson.dumps(head)
    body = b"".join((_LENGTH.pack(len(meta)), meta, record.value or b""))
    return _FRAME.pack(len(body), zlib.crc32(body)) + body


@dataclass
class Reading:
    """What a file held: its whole records, and what was wrong with it."""

    records: list[Record]
    # Bytes after the last whole record (a crash mid-append, or damage).
    ignored_bytes: int = 0
    # Whole records of an operation or kind this release does not know.
    unknown: int = 0
    problem: str | None = None


def decode(data: bytes) -> Reading:
    """Every whole record of a file's bytes, up to the first damaged one."""
    if not data.startswith(HEADER):
        return Reading([], len(data), problem="no outbox header" if data else None)
    reading = Reading([])
    offset = len(HEADER)
    while offset < len(data):
        body_at = offset + _FRAME.size
        if body_at > len(data):
            break
        length, crc = _FRAME.unpack_from(data, offset)
        body = data[body_at : body_at + length]
        if len(body) < length or zlib.crc32(body) != crc:
            break
        record = _record(body)
        if record is None:
            reading.unknown += 1
        else:
            reading.records.append(record)
        offset = body_at + length
    if offset < len(data):
        reading.ignored_bytes = len(data) - offset
        reading.problem = f"damaged or truncated record at byte {offset}"
    return reading


def _record(body: bytes) -> Record | None:
    try:
        (meta_length,) = _LENGTH.unpack_from(body)
        head = orjson.loads(body[_LENGTH.size : _LENGTH.size + meta_length])
        op, kind, namespace = head.pop("t"), head.pop("k"), head.pop("ns")
        at_ms, key = int(head.pop("at")), head.pop("key", None)
    except (struct.error, orjson.JSONDecodeError, KeyError, TypeError, ValueError,
            AttributeError):
        return None
    if op not in OPERATIONS or kind not in KINDS:
        return None
    value = body[_LENGTH.size + meta_length :] if op == PUT and head else None
    return Record(op, namespace, key, at_ms, kind, value, head or None)


class Pending(NamedTuple):
    """What a file still owes Redis: per key its last operation, the
    namespaces to sweep, and the tags (`namespace:tag`) to invalidate."""

    operations: dict[str, Record]
    namespaces: set[str]
    tags: set[str]


def fold(records: list[Record]) -> Pending:
    """The records of one file, oldest first, folded into what is owed."""
    operations: dict[str, Record] = {}
    namespaces: set[str] = set()
    tags: set[str] = set()
    for record in records:
        if record.op == TAG:
            tags.add(record.name)
        elif record.op == PURGE:
            head = f"{record.namespace}:"
            for name in [name for name in operations if name.startswith(head)]:
                del operations[name]
            namespaces.add(record.namespace)
        elif record.op == SETTLE:
            operations.pop(record.name, None)
        else:
            operations.pop(record.name, None)
            operations[record.name] = record
    return Pending(operations, namespaces, tags)
