"""What a good CACHE_API_TOKENS_FILE is, what a bad one is told, and when an
open service on a network address is refused."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from service.__main__ import main
from service.config import ConfigError, Settings
from service.config.callers import (
    ONE_TOKEN_CALLER,
    is_loopback,
    read_callers,
    refuse_open_service,
)
from service.http.callers_table import CallersTable
from statemachine.clock import FakeClock

DIGEST = hashlib.sha256(b"t1").hexdigest()
GOOD = f"""
[[caller]]
name = "search-team"
sha256 = ["{DIGEST}", "{hashlib.sha256(b"t2").hexdigest()}"]
namespaces = ["resume_parse", "ats_score"]
rights = ["read", "write"]

[[caller]]
name = "prometheus"
sha256 = "{hashlib.sha256(b"t3").hexdigest().upper()}"
namespaces = ["*"]
rights = ["observe"]
"""


def _file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "callers.toml"
    path.write_text(text)
    return str(path)


def test_a_good_file_gives_each_digest_its_caller(tmp_path: Path) -> None:
    callers = read_callers(_file(tmp_path, GOOD))
    team = callers[bytes.fromhex(DIGEST)]
    assert callers[hashlib.sha256(b"t2").digest()] is team  # rotation: two digests
    assert team.may("write") and not team.may("purge")
    assert team.covers("ats_score") and not team.covers("default")
    watcher = callers[hashlib.sha256(b"t3").digest()]
    assert watcher.covers("anything") and watcher.may("observe") and not watcher.may("read")
    assert ONE_TOKEN_CALLER.covers("x") and all(
        ONE_TOKEN_CALLER.may(r) for r in ("read", "write", "purge", "observe"))


@pytest.mark.parametrize(("text", "problem"), [
    ("[[caller]\n", "not TOML"),
    ("[other]\nx = 1\n", "unknown table 'other'"),
    (GOOD.replace('rights = ["observe"]', 'rights = ["observe", "admin"]'),
     "caller 2 (prometheus): unknown right 'admin'"),
    (GOOD.replace('rights = ["observe"]', "rights = []"), "rights must be a non-empty list"),
    (GOOD.replace('name = "prometheus"', 'name = "search-team"'), "used twice"),
    (GOOD.replace('name = "prometheus"', 'name = "anonymous"'), "name must be"),
    (GOOD.replace('namespaces = ["*"]', 'namespaces = ["Default"]'), "namespaces are"),
    (GOOD.replace('namespaces = ["*"]', 'namespace = ["*"]'), "unknown field 'namespace'"),
    ('[[caller]]\nname = "x"\nnamespaces = ["*"]\nrights = ["read"]\n',
     "caller 1: missing field 'sha256'"),
    (GOOD + f'[[caller]]\nname = "x"\nsha256 = "{DIGEST}"\nnamespaces = ["*"]\n'
            'rights = ["read"]\n', "a sha256 already given to 'search-team'"),
    (GOOD.replace(DIGEST, "secret-token-not-a-digest"), "64 hex digits"),
])
def test_a_bad_file_is_named_with_its_mistake_and_no_digest(
    tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"CACHE_API_TOKENS_FILE": _file(tmp_path, text)})
    message = str(raised.value)
    assert message.startswith("CACHE_API_TOKENS_FILE: ") and problem in message
    assert DIGEST not in message and "secret-token" not in message


def test_start_up_stops_with_one_line_for_a_bad_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOST", "127.0.0.1")
    monkeypatch.setenv("CACHE_API_TOKENS_FILE", _file(tmp_path, "[[caller]]\nname = 3\n"))
    assert main([]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "CACHE_API_TOKENS_FILE" in line and "missing field" in line


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("::", False), ("10.0.0.5", False),
    ("cache.internal", False),
])
def test_only_loopback_addresses_count_as_local(host: str, loopback: bool) -> None:
    assert is_loopback(host) == loopback


def test_an_open_network_address_is_refused_unless_opted_out() -> None:
    refuse_open_service("127.0.0.1", "token", [None, None, None])
    refuse_open_service("0.0.0.0", "token", [None, None, "/etc/callers.toml"])
    refuse_open_service("0.0.0.0", "none", [None, None, None])
    with pytest.raises(ConfigError, match="CACHE_API_AUTH=none"):
        refuse_open_service("0.0.0.0", "token", [None, None, None])
    with pytest.raises(ConfigError, match="unset one or the other"):
        refuse_open_service("127.0.0.1", "none", ["tok", None, None])


def test_the_table_follows_the_file_and_keeps_the_last_good_one(tmp_path: Path) -> None:
    path = _file(tmp_path, GOOD)
    clock = FakeClock()
    table = CallersTable(path, clock.monotonic)
    assert table.caller_of("Bearer t1") is not None and table.caller_of("Bearer t9") is None
    assert table.caller_of("t1") is None and table.caller_of("Basic t1") is None
    Path(path).write_text("not toml at all = = =")
    clock.advance(1.0)
    assert table.caller_of("Bearer t1") is not None  # the bad file is not taken
    Path(path).write_text(GOOD.replace(DIGEST, hashlib.sha256(b"t9").hexdigest()))
    table.reload()
    # t1 was remembered: the change forgets it.
    assert table.caller_of("Bearer t1") is None and table.caller_of("Bearer t9") is not None


def test_only_callers_are_remembered_and_a_spray_evicts_nothing(tmp_path: Path) -> None:
    table = CallersTable(_file(tmp_path, GOOD), FakeClock().monotonic)
    assert table.caller_of("Bearer t1") is not None
    calls: list[bytes] = []
    real = hashlib.sha256

    def counted(data: bytes) -> Any:
        calls.append(data)
        return real(data)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(hashlib, "sha256", counted)
        for guess in range(100):
            assert table.caller_of(f"Bearer guess-{guess}") is None
        assert table.caller_of("Bearer t1") is not None
    assert len(calls) == 100  # every guess hashed, t1 remembered
