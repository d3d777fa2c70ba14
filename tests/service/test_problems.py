"""Problem details (RFC 9457): every error code has a title, a type URI that
is a well-formed tag URI, and a section in docs/api.md its fragment names."""

from __future__ import annotations

import re
from pathlib import Path

from service.http.api_description import DOCUMENT, operations
from service.http.responses import PROBLEM_TYPE_PREFIX, TITLES, problem

ROOT = Path(__file__).resolve().parents[2]
# RFC 4151: "tag:" authority "," date ":" specific ["#" fragment].
TAG_URI = re.compile(r"tag:[a-z0-9.-]+,\d{4}(-\d{2}(-\d{2})?)?:[\w./?:@!$&'()*+,;=~-]*"
                     r"(#[\w./?:@!$&'()*+,;=~-]*)?")
# The literal codes of the calls that build errors in service/.
CALLS = re.compile(r'(?:error_response\(\s*\d{3},\s*|_bad\(\s*)"([a-z_]+)"')
# Codes named at run time from aiohttp's exceptions (request_layer._http_error).
FROM_AIOHTTP = {"not_found", "method_not_allowed"}


def _documented_codes() -> set[str]:
    codes: set[str] = set()
    for _, _, operation in operations(DOCUMENT):
        for answer in operation["responses"].values():
            for media in answer.get("content", {}).values():
                codes.update(media["schema"].get("properties", {}).get("error", {}).get("enum", []))
    return codes


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but - and _ dropped,
    spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_code_given_has_a_title() -> None:
    sources = "".join(p.read_text() for p in (ROOT / "service").rglob("*.py"))
    given = set(CALLS.findall(sources))
    assert {"miss", "stale_lease", "overloaded", "bad_body"} <= given  # the pattern finds them
    assert given | _documented_codes() | FROM_AIOHTTP <= set(TITLES)
    assert set(TITLES) <= given | FROM_AIOHTTP  # and no title for a code no longer given


def test_every_type_is_a_tag_uri_whose_fragment_is_a_section_of_the_api_docs() -> None:
    anchors = _anchors((ROOT / "docs" / "api.md").read_text(encoding="utf-8"))
    for code in TITLES:
        uri = PROBLEM_TYPE_PREFIX + code
        assert TAG_URI.fullmatch(uri), uri
        path, fragment = uri.split(":", 2)[2].split("#")
        assert (ROOT / path).is_file() and fragment in anchors, uri


def test_a_code_without_a_title_is_about_blank_with_the_status_phrase() -> None:
    body = problem(405, "some_new_thing", "Method Not Allowed: PATCH /x")
    assert (body["type"], body["title"], body["status"]) == ("about:blank", "Method Not Allowed", 405)
    assert body["error"] == "some_new_thing" and body["detail"] == body["message"]
