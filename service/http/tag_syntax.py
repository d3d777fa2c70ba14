"""Tags as the HTTP API reads and writes them (service/http/tags_api.py):
1..CACHE_TAG_MAX_CHARS characters of letters, digits and . _ ~ : -, at most
CACHE_TAGS_MAX of them; anything else is a 400 `bad_tags` that changes
nothing. Repeated tags count once."""

from __future__ import annotations

import re
from typing import Any

from multidict import istr

from service.config import Settings

X_CACHE_TAGS = istr("X-Cache-Tags")
_TAG = re.compile(r"[A-Za-z0-9._~:-]+")


class BadTags(ValueError):
    """The 400 `bad_tags` answer's detail."""


def checked(tags: Any, settings: Settings) -> list[str]:
    """A list of tags as given (JSON or the header's), checked, without repeats."""
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise BadTags("Tags are a list of strings.")
    unique = list(dict.fromkeys(tags))
    if len(unique) > settings.cache_tags_max:
        raise BadTags(f"At most {settings.cache_tags_max} tags (CACHE_TAGS_MAX).")
    limit = settings.cache_tag_max_chars
    for tag in unique:
        if len(tag) > limit or _TAG.fullmatch(tag) is None:
            raise BadTags(f"Bad tag {tag[:limit + 8]!r}: tags are 1-{limit} characters of "
                            "letters, digits and . _ ~ : -")
    return unique


def from_header(raw: str | None, settings: Settings) -> list[str] | None:
    """A PUT's X-Cache-Tags (comma-separated; None without the header)."""
    if raw is None:
        return None
    return checked([tag.strip() for tag in raw.split(",")], settings)


def header(tagged: tuple[tuple[str, int], ...]) -> str:
    """A hit's X-Cache-Tags."""
    return ", ".join(tag for tag, _ in tagged)
