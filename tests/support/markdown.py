"""Reading the project's Markdown as the tests need it: a generated section
between two marker comments, the fenced blocks after a marker, the links,
and the anchors GitHub makes of the headings (so a test can hold every
`file.md#anchor` to a heading that exists)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
# [text](target): not images' !, not inside code spans (stripped first).
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def between(text: str, begin: str, end: str) -> str:
    """The text between the one `begin` marker and the one `end` marker."""
    assert text.count(begin) == 1 and text.count(end) == 1, (begin, end)
    return text.split(begin)[1].split(end)[0].strip()


def without_code(text: str) -> str:
    """The prose: fenced blocks, indented blocks and code spans removed."""
    text = FENCE.sub("", text)
    text = re.sub(r"^(?: {4}|\t).*$", "", text, flags=re.MULTILINE)
    return re.sub(r"`[^`\n]*`", "", text)


def links(text: str) -> list[str]:
    return LINK.findall(without_code(text))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but - and _
    dropped, spaces to hyphens (`RoleReadyRedisNotReady` -> `rolereadyredisnotready`,
    `/health/detailed` -> `healthdetailed`)."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading's anchor; a repeated one gets -1, -2... as on GitHub."""
    found: set[str] = set()
    for heading in HEADING.findall(FENCE.sub("", text)):
        anchor = base = slug(heading)
        n = 0
        while anchor in found:
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


@dataclass(frozen=True)
class Block:
    """A fenced block, with the marker comment right before it (if any)."""

    marker: str | None
    language: str
    body: str


def blocks(text: str) -> Iterator[Block]:
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        marker = None
        if before and before[-1].startswith("<!--") and before[-1].endswith("-->"):
            marker = before[-1][4:-3].strip()
        yield Block(marker, match.group(1), match.group(2))
