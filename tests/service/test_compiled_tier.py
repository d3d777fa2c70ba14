"""The memory tier as installed: compiled by mypyc when setup.py could, and
then compiled from the sources as they are now (an editable install builds
the extension next to the .py, where it shadows any later edit)."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPILED_SOURCES = ("service/cache/memory.py", "service/cache/entry.py")
RECORD = ROOT / "service/cache/compiled-sources.sha256"


def test_setup_py_compiles_exactly_these_sources() -> None:
    setup_py = (ROOT / "setup.py").read_text()
    assert all(f'"{source}"' in setup_py for source in COMPILED_SOURCES)
    assert f'"{RECORD.relative_to(ROOT)}"' in setup_py


@pytest.mark.parametrize("source", COMPILED_SOURCES)
def test_a_compiled_module_was_built_from_its_current_source(source: str) -> None:
    module = importlib.import_module(source.removesuffix(".py").replace("/", "."))
    if Path(module.__file__ or "").suffix != ".so":
        return  # installed as plain Python: nothing can be stale
    recorded = dict(line.split()[::-1] for line in RECORD.read_text().splitlines())
    current = hashlib.sha256((ROOT / source).read_bytes()).hexdigest()
    assert recorded[source] == current, (
        f"the extension for {source} was built from an older version of it: "
        "run scripts/test (it re-installs when a compiled source changes)"
    )
