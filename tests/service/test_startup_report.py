"""Start-up report: namespaces with TTLs, unknown variables, near-miss namespaces,
and never a variable's value in a warning."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

import service.__main__ as entry
from service.config import ConfigError, Settings, startup_report
from service.config.report import edit_distance

SECRET = "hunter2-s3cret"


NO_STATE_DIR = "CACHE_STATE_DIR is not set"


def _report(env: dict[str, str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The namespaces line and the warnings other than the one about
    CACHE_STATE_DIR (tested on its own below), for a service with a token
    (the lines about who may call are the last test's)."""
    with_token = {**env, "CACHE_API_TOKEN": SECRET}
    report = startup_report(Settings.from_env(with_token), env)
    return report.lines[:1], tuple(w for w in report.warnings if not w.startswith(NO_STATE_DIR))


def test_without_a_state_dir_start_up_warns_that_outage_writes_die_with_the_process(
    tmp_path: Path,
) -> None:
    def warnings(env: dict[str, str]) -> tuple[str, ...]:
        with_token = {**env, "CACHE_API_TOKEN": SECRET}
        return startup_report(Settings.from_env(with_token), env).warnings

    (warning,) = warnings({"REDIS_URL": "redis://db:6379"})
    assert warning.startswith(NO_STATE_DIR) and "do not survive a restart" in warning
    state_dir = tmp_path / "state"
    assert warnings({"REDIS_URL": "redis://db:6379", "CACHE_STATE_DIR": str(state_dir)}) == ()
    assert not state_dir.exists()  # reading the settings creates nothing
    assert warnings({"REDIS_URL": ""}) == ()  # memory only: there is no outage
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError, match="^CACHE_STATE_DIR: .*is not a directory"):
        Settings.from_env({"CACHE_STATE_DIR": str(tmp_path / "a-file" / "state")})



def test_a_clean_environment_lists_the_built_in_namespaces_and_warns_nothing() -> None:
    lines, warnings = _report({"PATH": "/bin", "REDIS_URL": "redis://db:6379"})
    expected = (
        "namespaces and TTLs: ai_draft=7200000 ms, ats_score=21600000 ms, "
        "default=300000 ms, job_analysis=86400000 ms, resume_parse=2592000000 ms"
    )
    assert lines == (expected,)
    assert warnings == ()


def test_a_misspelt_namespace_variable_shows_in_the_line_and_warns() -> None:
    lines, warnings = _report({"CACHE_DEFUALT_TTL_MS": "1000"})
    assert "defualt=1000 ms (declared)" in lines[0]
    assert "default=300000 ms," in lines[0]
    expected = (
        "CACHE_DEFUALT_TTL_MS declares namespace 'defualt', close to the built-in "
        "'default' (CACHE_DEFAULT_TTL_MS): a misspelling?"
    )
    assert warnings == (expected,)


def test_a_namespace_far_from_the_built_ins_is_not_a_misspelling() -> None:
    lines, warnings = _report({"CACHE_COVER_LETTER_TTL_MS": "1000"})
    assert "cover_letter=1000 ms (declared)" in lines[0]
    assert warnings == ()


@pytest.mark.parametrize(
    ("variable", "hint"),
    [
        ("REDIS_PASWORD", ""),
        ("CACHE_LRU_MAX_ITMES", "; did you mean CACHE_LRU_MAX_ITEMS?"),
        ("REDIS_CONECT_TIMEOUT_MS", "; did you mean REDIS_CONNECT_TIMEOUT_MS?"),
        ("CACHE_default_TTL_MS", ""),  # namespace variables are upper-case
        ("CACHE_AI_DRAFT_REFRESH_AHAED", ""),  # a misspelled namespace policy
    ],
)
def test_unknown_redis_and_cache_variables_are_named_never_their_value(
    variable: str, hint: str
) -> None:
    _, warnings = _report({variable: SECRET})
    assert warnings == (f"unknown variable {variable} is ignored{hint}",)


def test_other_variables_and_known_ones_are_not_warned_about() -> None:
    env = {
        "HOME": "/root",
        "REDISCLI_AUTH": SECRET,
        "PORT": "3001",
        "CACHE_API_TOKEN": SECRET,
        "CACHE_LRU_TTL_MS": "1000",
        "CACHE_LRU_MAX_BYTES": "1024",
    }
    assert _report(env)[1] == ()


def test_no_line_or_warning_ever_holds_a_value() -> None:
    env = {
        "REDIS_URL": f"redis://app:{SECRET}@db:6379",
        "CACHE_API_TOKEN": SECRET,
        "REDIS_SENTINEL_PASSWORD": SECRET,  # declared (secret): no warning
        "REDIS_PASSWRD": SECRET,
        "CACHE_TOKEN": SECRET,
        "CACHE_DEFUALT_TTL_MS": "987654",
    }
    lines, warnings = _report(env)
    assert len(warnings) == 3
    for text in (*lines, *warnings):
        assert SECRET not in text
    for warning in warnings:
        assert "987654" not in warning


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("default", "default", 0),
        ("defualt", "default", 1),  # a swap counts once
        ("defaults", "default", 1),
        ("ats_scores", "ats_score", 1),
        ("dflt", "default", 3),
        ("", "abc", 3),
        ("job_analysis", "ai_draft", 10),
    ],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance == edit_distance(b, a)


def test_main_logs_the_report_then_serves(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    served: list[Settings] = []

    async def serve(settings: Settings) -> None:
        served.append(settings)

    levels: list[str] = []
    monkeypatch.setattr(entry, "serve", serve)
    monkeypatch.setattr(entry, "configure_logging", lambda level, log_format: levels.append(level))
    for name in [n for n in os.environ if n.startswith(("REDIS_", "CACHE_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CACHE_DEFUALT_TTL_MS", "1000")
    monkeypatch.setenv("REDIS_PASWORD", SECRET)
    monkeypatch.setenv("HOST", "127.0.0.1")  # no token: only a loopback HOST starts
    caplog.set_level(logging.INFO, logger="roleready.config")

    assert entry.main([]) == 0

    assert levels == ["INFO"] and len(served) == 1
    records = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert records[0][0] == logging.INFO and "defualt=1000 ms" in records[0][1]
    assert records[1] == (logging.INFO, "access: no token, every route open")
    # The two above, the open service, and that outage writes do not survive
    # (no CACHE_STATE_DIR).
    assert [level for level, _ in records[2:]] == [logging.WARNING] * 4
    assert "every route, values included, is open to whoever reaches 127.0.0.1:" in records[4][1]
    assert "REDIS_PASWORD" in caplog.text and SECRET not in caplog.text


def test_who_may_call_is_reported_and_an_open_service_warned_about() -> None:
    opened = startup_report(Settings.from_env({"HOST": "0.0.0.0", "CACHE_API_AUTH": "none"}), {})
    assert opened.lines[1] == "access: no token, every route open"
    (warning,) = (w for w in opened.warnings if not w.startswith(NO_STATE_DIR))
    assert warning.startswith("no token configured (CACHE_API_AUTH=none): every route")
    assert "0.0.0.0:3001" in warning
    guarded = startup_report(Settings.from_env({"CACHE_API_TOKEN": "tok-never-shown"}), {})
    assert guarded.lines[1] == ("access: bearer tokens from CACHE_API_TOKEN; /health and "
                                "/health/ready open")
    assert all(w.startswith(NO_STATE_DIR) for w in guarded.warnings)
    assert "tok-never-shown" not in str(guarded)
