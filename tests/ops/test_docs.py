"""The documents point only at what exists: every relative link (and its
anchor), every repository path they name; and they name no issue number
and nothing outside the repository. README.md stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.markdown import ROOT, anchors, links, without_code

DOCUMENTS = sorted(
    [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "scripts" / "README.md",
     ROOT / "tests" / "README.md", *(ROOT / "docs").glob("*.md")]
)
README_MAX_LINES = 200
# A path as the documents name one: from a top-level directory of the
# repository (not part of a longer path such as /opt/roleready-cache/scripts/),
# or one of its top-level files.
REPOSITORY_PATH = re.compile(
    r"(?<![\w/.~-])((?:service|statemachine|tests|scripts|deploy|docs|\.ci)/[\w./-]*"
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
    # From the root, or (tests/README.md naming service/test_x.py) from the document's folder.
    missing = sorted(p for p in named
                     if not (ROOT / p).exists() and not (document.parent / p).exists())
    assert not missing, f"{_name(document)} names paths that do not exist: {missing}"


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
