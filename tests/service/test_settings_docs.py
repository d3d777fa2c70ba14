"""The documentation of the settings is the declaration: README table and --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import service.__main__ as entry
from service.config import DEFAULT_NAMESPACE_TTLS_MS, SETTINGS
from service.config.docs import (
    README_BEGIN,
    README_END,
    REGENERATE,
    help_text,
    markdown_table,
    rows,
)

README = Path(__file__).resolve().parents[2] / "README.md"


def _readme_table() -> str:
    text = README.read_text(encoding="utf-8")
    assert text.count(README_BEGIN) == 1 and text.count(README_END) == 1
    return text.split(README_BEGIN)[1].split(README_END)[0].strip()


def test_readme_holds_the_generated_settings_table() -> None:
    assert _readme_table() == markdown_table(), f"regenerate it: {REGENERATE}"


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
        cwd=README.parent,
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
