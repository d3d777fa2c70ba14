"""The auto-pipeline's own RESP packing sends what redis-py would send."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import Connection

from service.link.pipeline import pack

COMMANDS = [
    ("GET", "roleready:default:k1"),
    ("PTTL", "roleready:default:k1"),
    ("SET", "roleready:ats_score:job:42", b"\x01application/json\n{\"a\": 1}", "PX", 300000),
    ("SET", "k", b"x" * 100_000, "PX", 1),
    ("DEL", "roleready:default:caf\u00e9"),
    ("PING",),
    ("INFO", "memory"),
    ("INCRBYFLOAT", "n", 0.5),
    ("SET", "empty", b""),
    ("SET", "k" * 1023, "v" * 1024),  # either side of the table of length lines
]


def test_pack_matches_redis_py_byte_for_byte() -> None:
    expected = b"".join(Connection().pack_commands(COMMANDS))
    assert pack(COMMANDS, "utf-8", "strict") == expected


def test_pack_uses_the_clients_encoding() -> None:
    connection = Connection(encoding="latin-1")
    command = [("GET", "caf\u00e9")]
    assert pack(command, "latin-1", "strict") == b"".join(connection.pack_commands(command))


@pytest.mark.parametrize("bad", [True, None, object()])
def test_pack_refuses_what_redis_py_refuses(bad: object) -> None:
    with pytest.raises(TypeError):
        pack([("SET", "k", bad)], "utf-8", "strict")  # type: ignore[list-item]
