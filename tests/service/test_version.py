"""The version is written once (setup.cfg); a tree that is not installed reads it there."""

from __future__ import annotations

from importlib import metadata

import pytest

import service


def test_an_uninstalled_tree_reads_setup_cfg(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = metadata.version(service.DISTRIBUTION)
    assert service.__version__ == installed

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    assert service._version() == installed
