"""The version is written once (setup.cfg); a tree that is not installed reads it
there; `python -m service --version` prints it."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from importlib import metadata

import pytest

import service
from tests.support.markdown import ROOT


def test_an_uninstalled_tree_reads_setup_cfg(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = metadata.version(service.DISTRIBUTION)
    assert service.__version__ == installed

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert service._version() == installed


def test_python_m_service_version_prints_it_without_reading_the_environment() -> None:
    # A malformed variable would stop start-up (exit 2): --version never reads them.
    result = subprocess.run(
        [sys.executable, "-m", "service", "--version"],
        env={"PATH": "/usr/bin:/bin", "CACHE_LRU_MAX_ITEMS": "abc"},
        capture_output=True, text=True, timeout=30, check=False, cwd=ROOT,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == f"{service.__version__}\n"


def test_the_version_is_written_once_in_setup_cfg() -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(ROOT / "setup.cfg")
    written = parser.get("metadata", "version")
    assert service.__version__ == written
    assert re.fullmatch(r"\d+\.\d+\.\d+", written)
    # The changelog's newest release is that version.
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", (ROOT / "CHANGELOG.md").read_text(), re.M)
    assert releases[0] == written
