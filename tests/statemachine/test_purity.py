"""statemachine/ stays pure: no aiohttp, redis or service imports (checked in
a fresh interpreter and in the source), no direct clock reads or sleeps."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import statemachine

PACKAGE = Path(statemachine.__file__).parent
ROOT = PACKAGE.parent
ALLOWED_THIRD_PARTY = {"transitions"}


def test_import_in_fresh_interpreter_loads_no_io_packages() -> None:
    code = (
        "import statemachine, sys\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in {'aiohttp', 'redis', 'service'})\n"
        "print(','.join(bad) or 'clean')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT,
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "clean"


def modules() -> list[Path]:
    found = sorted(PACKAGE.glob("*.py"))
    assert len(found) >= 10
    return found


def test_imports_only_stdlib_transitions_and_itself() -> None:
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ok = top in sys.stdlib_module_names or top in ALLOWED_THIRD_PARTY
                assert ok or top == "statemachine", f"{path.name} imports {name}"


def test_no_direct_clock_reads_or_sleeps() -> None:
    forbidden = {("time", "time"), ("time", "monotonic"), ("asyncio", "sleep")}
    for path in modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in forbidden, path.name
            if isinstance(node, ast.ImportFrom) and node.module in {"time", "asyncio"}:
                assert not {a.name for a in node.names} & {"time", "monotonic", "sleep"}


def test_every_module_has_a_docstring_and_stays_small() -> None:
    for path in modules():
        source = path.read_text()
        assert ast.get_docstring(ast.parse(source)), path.name
        assert source.count("\n") <= 250, path.name
