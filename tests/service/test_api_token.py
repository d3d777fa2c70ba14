"""CACHE_API_TOKEN_FILE followed as it rotates, on a FakeClock: a change is
seen after the check interval, the previous token is accepted for the
overlap and refused after it, a broken file keeps the last good token, and
the file is looked at no more than once a second however many requests come."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.http import followed_file
from service.http.api_token import FixedToken, TokenFile, expected_header
from service.http.followed_file import CHECK_INTERVAL_S
from statemachine.clock import FakeClock

OLD = "old-7f3a-token"
NEW = "new-91c2-token"
OVERLAP_S = 60.0


def _bearer(token: str) -> bytes:
    return f"Bearer {token}".encode()


@pytest.fixture
def token_path(tmp_path: Path) -> Path:
    path = tmp_path / "token"
    path.write_text(f"  {OLD}\n")
    return path


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tokens(token_path: Path, clock: FakeClock) -> TokenFile:
    return TokenFile(str(token_path), OVERLAP_S, clock.monotonic)


def _rotate(path: Path, token: str) -> None:
    """Replace the file atomically, as a secret mount or a careful operator does."""
    staged = path.with_name("token.new")
    staged.write_text(token + "\n")
    os.replace(staged, path)


def _seen(tokens: TokenFile, path: Path, clock: FakeClock, token: str) -> None:
    """Rotate the file to `token`; the next check, a second on, accepts it."""
    _rotate(path, token)
    clock.advance(CHECK_INTERVAL_S)
    assert tokens.accepts(_bearer(token))


def test_the_token_is_read_with_surrounding_whitespace_stripped(tokens: TokenFile) -> None:
    assert tokens.accepts(_bearer(OLD))
    assert not tokens.accepts(_bearer(f"  {OLD}"))
    assert not tokens.accepts(b"")
    assert not tokens.accepts(_bearer(NEW))


def test_a_rotated_token_is_accepted_once_the_check_interval_has_passed(
    tokens: TokenFile, token_path: Path, clock: FakeClock
) -> None:
    _rotate(token_path, NEW)
    clock.advance(CHECK_INTERVAL_S - 0.01)
    assert not tokens.accepts(_bearer(NEW))  # not looked at yet
    clock.advance(0.01)
    assert tokens.accepts(_bearer(NEW))


def test_the_old_token_is_accepted_during_the_overlap_and_refused_after_it(
    tokens: TokenFile, token_path: Path, clock: FakeClock
) -> None:
    _seen(tokens, token_path, clock, NEW)
    clock.advance(OVERLAP_S - 0.5)
    assert tokens.accepts(_bearer(OLD)) and tokens.accepts(_bearer(NEW))
    clock.advance(0.5)
    assert not tokens.accepts(_bearer(OLD))
    assert tokens.accepts(_bearer(NEW))


def test_a_second_rotation_within_the_overlap_keeps_only_the_last_two(
    tokens: TokenFile, token_path: Path, clock: FakeClock
) -> None:
    _seen(tokens, token_path, clock, NEW)
    _seen(tokens, token_path, clock, "third-token")
    assert tokens.accepts(_bearer(NEW))
    assert not tokens.accepts(_bearer(OLD))


def test_reload_reads_the_file_at_once(tokens: TokenFile, token_path: Path) -> None:
    _rotate(token_path, NEW)
    tokens.reload()
    assert tokens.accepts(_bearer(NEW)) and tokens.accepts(_bearer(OLD))


def test_reload_reads_a_change_that_stat_cannot_see(
    tokens: TokenFile, token_path: Path, clock: FakeClock
) -> None:
    """Same size, inode and mtime (a coarse-mtime file system): only SIGHUP tells."""
    before = token_path.stat()
    token_path.write_text(f"  {OLD.upper()}\n")
    os.utime(token_path, ns=(before.st_atime_ns, before.st_mtime_ns))
    clock.advance(CHECK_INTERVAL_S)
    assert not tokens.accepts(_bearer(OLD.upper()))
    tokens.reload()
    assert tokens.accepts(_bearer(OLD.upper()))


def test_the_file_is_stat_once_a_second_at_most(
    tokens: TokenFile, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    looks: list[str] = []
    real_signature = followed_file.file_signature

    def counted(path: str) -> followed_file.Signature | None:
        looks.append(path)
        return real_signature(path)

    monkeypatch.setattr(followed_file, "file_signature", counted)
    for _ in range(1000):
        assert tokens.accepts(_bearer(OLD))
    assert looks == []
    clock.advance(CHECK_INTERVAL_S)
    for _ in range(1000):
        assert tokens.accepts(_bearer(OLD))
        clock.advance(CHECK_INTERVAL_S / 100)
    assert len(looks) == 10


@pytest.mark.parametrize("breakage", ["empty", "missing", "directory"])
def test_a_broken_file_keeps_the_last_good_token_and_warns_once(
    tokens: TokenFile,
    token_path: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    breakage: str,
) -> None:
    token_path.unlink()
    if breakage == "empty":
        token_path.write_text(" \n")
    elif breakage == "directory":
        token_path.mkdir()
    for _ in range(5):
        clock.advance(CHECK_INTERVAL_S)
        assert tokens.accepts(_bearer(OLD))
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
    assert "CACHE_API_TOKEN_FILE" in warnings[0].getMessage()
    assert "last good token" in warnings[0].getMessage()
    if token_path.is_dir():
        token_path.rmdir()
    token_path.write_text(NEW)
    clock.advance(CHECK_INTERVAL_S)
    assert tokens.accepts(_bearer(NEW)) and tokens.accepts(_bearer(OLD))
    assert OLD not in caplog.text and NEW not in caplog.text


def test_a_rewrite_with_the_same_token_starts_no_overlap(
    tokens: TokenFile, token_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    _rotate(token_path, OLD)
    clock.advance(CHECK_INTERVAL_S)
    assert tokens.accepts(_bearer(OLD))
    assert "changed" not in caplog.text


def test_a_fixed_token_compares_the_whole_header() -> None:
    fixed = FixedToken("tok")
    assert fixed.accepts(expected_header("tok"))
    assert not fixed.accepts(b"Bearer tok2")
    assert not fixed.accepts(b"tok")
