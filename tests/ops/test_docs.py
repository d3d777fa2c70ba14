"""The documents point only at what exists: every relative link (and its
anchor), every repository path they name, and every path the code's
docstrings and comments name; and they name no issue number and nothing outside the
repository. README.md stays short."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.markdown import ROOT, anchors, links, without_code

DOCUMENTS = sorted(
    [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "scripts" / "README.md",
     ROOT / "tests" / "README.md", *(ROOT / "docs").glob("*.md")]
)
# The code whose docstrings are held to the same rule as the documents.
CODE = sorted(p for top in ("service", "statemachine", "scripts", "tests", "clients/python")
              for p in (ROOT / top).rglob("*.py"))
README_MAX_LINES = 200
# A path as the documents name one: from a top-level directory of the
# repository (not part of a longer path such as /opt/roleready-cache/scripts/),
# or one of its top-level files.
REPOSITORY_PATH = re.compile(
    r"(?<![\w/.~-])((?:service|statemachine|tests|scripts|deploy|docs|clients|\.ci)/[\w./-]*"
    r"|Dockerfile|docker-compose(?:\.ha)?\.yml|setup\.cfg|pyproject\.toml|LICENSE"
    r"|(?:CHANGELOG|README|SECURITY)\.md)(?![\w<{*])"
)
ISSUE_NUMBER = re.compile(r"\b[Ii]ssues?\s+#?\d+|(?<![\w&/])#\d+\b")
OUTSIDE = re.compile(r"\.\./shared|/work/shared|000_[0-9a-f]{16}\.txt|\bDESIGN\.md")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_documents_are_found() -> None:
    names = {_name(p) for p in DOCUMENTS}
    assert {"README.md", "docs/api.md", "docs/design.md", "docs/operations.md"} <= names


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_every_relative_link_and_anchor_exists(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    broken = []
    for target in links(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        linked = (document.parent / path).resolve() if path else document
        if not linked.exists():
            broken.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked.read_text()):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{_name(document)}: {broken}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_every_repository_path_named_exists(document: Path) -> None:
    named = {m.rstrip(".,:;") for m in REPOSITORY_PATH.findall(document.read_text())}
    missing = _missing(named, document.parent)
    assert not missing, f"{_name(document)} names paths that do not exist: {missing}"


def _docstrings(source: str) -> Iterator[str]:
    """The docstrings of a module, its classes and its functions, and its comments."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            text = ast.get_docstring(node, clean=False)
            if text:
                yield text
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.string


def _missing(named: set[str], folder: Path) -> list[str]:
    # From the root, or (tests/README.md naming a test by its path under tests/) from the folder.
    return sorted(p for p in named if not (ROOT / p).exists() and not (folder / p).exists())


def test_every_repository_path_the_code_names_exists() -> None:
    assert len(CODE) > 100  # the walk found the code
    missing = {}
    for module in CODE:
        named = {m.rstrip(".,:;") for text in _docstrings(module.read_text(encoding="utf-8"))
                 for m in REPOSITORY_PATH.findall(text)}
        if found := _missing(named, module.parent):
            missing[_name(module)] = found
    assert not missing, f"docstrings and comments name paths that do not exist: {missing}"


@pytest.mark.parametrize("document", DOCUMENTS, ids=_name)
def test_no_issue_numbers_and_nothing_outside_the_repository(document: Path) -> None:
    text = document.read_text(encoding="utf-8")
    found = ISSUE_NUMBER.findall(text) + OUTSIDE.findall(text)
    assert not found, f"{_name(document)}: {found}"


def test_the_readme_fits_on_a_few_screens() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    # The patterns themselves, on text that breaks each rule.
    assert ISSUE_NUMBER.findall("as issue 14 said, and #21") == ["issue 14", "#21"]
    assert not ISSUE_NUMBER.findall("redis/redis-py#3874, &#160;, color #fff")
    assert OUTSIDE.findall("see ../shared/DESIGN.md") == ["../shared", "DESIGN.md"]
    assert REPOSITORY_PATH.findall("`scripts/gone` and /opt/x/scripts/run") == ["scripts/gone"]
    assert links("[a](docs/x.md#y) `[b](c.md)` ![img](z.png)") == ["docs/x.md#y"]
    assert "prose" in without_code("prose\n\n    indented code\n")
    module = '''"""See scripts/gone.py."""\ndef f() -> None:\n    """And service/gone/."""\n# deploy/gone\n'''
    named = {m.rstrip(".") for text in _docstrings(module) for m in REPOSITORY_PATH.findall(text)}
    assert _missing(named, tmp_path) == ["deploy/gone", "scripts/gone.py", "service/gone/"]
