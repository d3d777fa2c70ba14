"""One declaration per setting: Settings fields, the docs/configuration.md table and --help agree."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import fields

import pytest

import service.__main__ as entry
from service.config import DEFAULT_NAMESPACE_TTLS_MS, SETTINGS, Settings, namespace_of
from service.config.docs import (
    MARKDOWN,
    REGENERATE,
    TABLE_BEGIN,
    TABLE_END,
    help_text,
    markdown_table,
    rows,
)
from tests.support.markdown import ROOT, between


def test_every_settings_field_is_declared_under_its_variable_name() -> None:
    declared = {s.attribute: s for s in SETTINGS}
    per_namespace = {"namespace_ttls_ms", "namespace_stale_ms", "namespace_refresh_ahead"}
    assert set(declared) | per_namespace == {f.name for f in fields(Settings)}
    for setting in SETTINGS:
        assert setting.attribute == setting.variable.lower()
        assert getattr(Settings(), setting.attribute) == setting.default
        assert setting.help and "|" not in setting.help and "\n" not in setting.help


def test_only_namespace_variables_end_in_ttl_ms() -> None:
    # docs/design.md (Variables): no setting but CACHE_LRU_TTL_MS may end in _TTL_MS.
    ttl_like = [s.variable for s in SETTINGS if s.variable.endswith("_TTL_MS")]
    assert ttl_like == ["CACHE_LRU_TTL_MS"]
    assert namespace_of("CACHE_LRU_TTL_MS") is None
    assert namespace_of("CACHE_AI_DRAFT_TTL_MS") == "ai_draft"
    assert namespace_of("CACHE_LRU_MAX_BYTES") is None


def test_the_docs_hold_the_generated_settings_table() -> None:
    text = (ROOT / MARKDOWN).read_text(encoding="utf-8")
    assert between(text, TABLE_BEGIN, TABLE_END) == markdown_table(), f"regenerate it: {REGENERATE}"


def test_the_table_has_every_variable_default_and_meaning() -> None:
    table = {r.variable: r for r in rows()}
    for setting in SETTINGS:
        row = table[setting.variable]
        assert (row.default, row.meaning) == (setting.default_text(), setting.help)
    for namespace, ttl_ms in DEFAULT_NAMESPACE_TTLS_MS.items():
        assert table[f"CACHE_{namespace.upper()}_TTL_MS"].default == str(ttl_ms)
    assert table["CACHE_LRU_MAX_BYTES"].default == "67108864"
    assert "CACHE_<NAME>_TTL_MS" in table


def test_help_lists_every_setting_with_its_default() -> None:
    text = help_text()
    for row in rows():
        assert f"  {row.variable}  default {row.default}; {row.bounds}\n      {row.meaning}" in text


def test_main_help_prints_the_settings_and_never_serves(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_serving(*args: object) -> None:
        raise AssertionError("--help started the server")

    monkeypatch.setattr(entry, "serve", no_serving)
    # Even a malformed environment does not stand in the way of --help.
    monkeypatch.setenv("CACHE_LRU_MAX_ITEMS", "abc")
    assert entry.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: roleready-cache")
    assert help_text() in out


@pytest.mark.parametrize("command", [["-m", "service", "--help"], ["-m", "service", "-h"]])
def test_python_m_service_help_exits_0_without_starting(command: list[str]) -> None:
    # Were the environment read, the malformed value would exit 2 at once.
    env = {"PATH": "/usr/bin:/bin", "CACHE_LRU_MAX_ITEMS": "abc"}
    result = subprocess.run(
        [sys.executable, *command],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for setting in SETTINGS:
        assert f"  {setting.variable}  default {setting.default_text()};" in result.stdout
    assert "serving on" not in result.stdout


def test_unknown_arguments_are_a_usage_error() -> None:
    with pytest.raises(SystemExit) as caught:
        entry.main(["--port", "80"])
    assert caught.value.code == 2
