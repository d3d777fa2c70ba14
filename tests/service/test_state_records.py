"""The outbox's state file: records read back as written; a file cut or
damaged anywhere is read up to its last whole record; kinds this release
does not know are skipped; the fold says what is still owed; a file whose
process holds its lock is never adopted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.cache.state_file import StateFile, adopt
from service.cache.state_records import (
    HEADER,
    Record,
    decode,
    encode,
    fold,
)

PUT_WITH_VALUE = Record("put", "default", "k", 1_000, value=b"\x00body\xff",
                        fields={"ct": "text/plain", "sa": 1, "ex": 2, "v": "ab", "until": 3})
RECORDS = [PUT_WITH_VALUE, Record("delete", "ai_draft", "x", 1_001),
           Record("purge", "ats_score", None, 1_002)]


def test_records_read_back_as_written() -> None:
    reading = decode(HEADER + b"".join(encode(r) for r in RECORDS))
    assert (reading.records, reading.problem, reading.ignored_bytes) == (RECORDS, None, 0)


def test_a_file_cut_anywhere_in_its_last_record_keeps_every_whole_one() -> None:
    whole = HEADER + encode(RECORDS[0]) + encode(RECORDS[1])
    last = encode(RECORDS[2])
    for cut in range(len(last)):
        reading = decode(whole + last[:cut])
        assert reading.records == RECORDS[:2]
        assert reading.ignored_bytes == cut
        assert (reading.problem is None) == (cut == 0)


@pytest.mark.parametrize("position", [0, 3, 8, 12, -1])
def test_a_flipped_byte_ends_the_reading_at_the_damaged_record(position: int) -> None:
    second = bytearray(encode(RECORDS[1]))
    second[position] ^= 0x40
    reading = decode(HEADER + encode(RECORDS[0]) + bytes(second) + encode(RECORDS[2]))
    assert reading.records == RECORDS[:1] and reading.problem is not None
    assert reading.ignored_bytes == len(second) + len(encode(RECORDS[2]))


def test_a_file_without_the_header_is_reported_and_yields_nothing() -> None:
    assert decode(b"").problem is None  # created, nothing written yet
    reading = decode(b"garbage" + encode(RECORDS[0]))
    assert reading.records == [] and reading.problem == "no outbox header"


def test_unknown_kinds_and_operations_are_skipped_and_counted() -> None:
    newer = [Record("put", "default", "k", 1, kind="unconfirmed"),
             Record("rename", "default", "k", 2)]
    reading = decode(HEADER + b"".join(encode(r) for r in [*newer, RECORDS[1]]))
    assert reading.records == [RECORDS[1]] and reading.unknown == 2


def test_the_fold_keeps_each_key_s_last_operation_and_the_purged_namespaces() -> None:
    records = [
        Record("put", "default", "a", 1), Record("delete", "default", "a", 2),
        Record("put", "default", "b", 3), Record("settle", "default", "b", 4),
        Record("put", "ats_score", "c", 5), Record("purge", "ats_score", None, 6),
        Record("put", "ats_score", "d", 7),
    ]
    owed = fold(records)
    assert {name: r.op for name, r in owed.operations.items()} == {
        "default:a": "delete", "ats_score:d": "put"}
    assert owed.namespaces == {"ats_score"}


async def test_a_live_process_s_file_is_never_adopted_a_dead_one_s_is(tmp_path: Path) -> None:
    live = StateFile(tmp_path)
    live.append(encode(RECORDS[1]))
    await live.synced()
    other = StateFile(tmp_path)
    assert adopt(tmp_path, other.path) == []  # its lock is held
    os.close(live._fd)  # the process dies: the kernel drops its lock
    (orphan,) = adopt(tmp_path, other.path)
    assert orphan.path == live.path and orphan.reading.records == [RECORDS[1]]
    assert adopt(tmp_path, other.path) == []  # adopted once, by one process
    orphan.remove()
    await other.close(remove=True)
    assert list(tmp_path.iterdir()) == []
