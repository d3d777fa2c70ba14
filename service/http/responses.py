"""JSON answers, encoded once with orjson, and every error as an RFC 9457
problem: the one place an error's body is built.

    error_response(409, "stale_lease", "This lease is ...")
      ─► 409, Content-Type: application/problem+json
          {"type": "tag:roleready-cache,2026:docs/api.md#error-stale_lease",
           "title": "Stale lease", "status": 409, "detail": "This lease is ...",
           "error": "stale_lease", "message": "This lease is ..."}

`type` is a tag URI (RFC 4151): absolute, so it is never resolved against
the request's URI (a relative reference would land in the cache's own key
space), and never dereferenced (RFC 9457 asks consumers not to). Its
fragment is the error's anchor in docs/api.md. `title` is fixed per code;
`detail` says what happened this time. `error` is the code callers matched
before problem details, kept as an extension member; `message` repeats
`detail` for the callers that read it, until the next minor release.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

JSON = "application/json"
PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "tag:roleready-cache,2026:docs/api.md#error-"
# Every error code this service gives, with its fixed title (docs/api.md has
# a section per code; tests/service/test_problems.py holds them together).
TITLES = {
    "bad_key": "Bad key",
    "bad_ttl_ms": "Bad ttl_ms",
    "bad_content_type": "Bad Content-Type",
    "bad_lease": "Bad lease parameter or token",
    "bad_wait_ms": "Bad wait_ms",
    "bad_limit": "Bad limit",
    "bad_tags": "Bad tags",
    "bad_request": "Bad request",
    "bad_body": "Bad batch body",
    "bad_value": "Bad batch entry",
    "too_many_keys": "Too many keys in one batch",
    "too_large": "Too large",
    "unauthorized": "Unauthorized",
    "forbidden": "Forbidden",
    "unknown_namespace": "Unknown namespace",
    "unknown_purge": "Unknown purge",
    "miss": "No cached value",
    "not_found": "Not found",
    "method_not_allowed": "Method not allowed",
    "request_timeout": "Request body timed out",
    "expectation_failed": "Expectation failed",
    "incomplete_body": "Incomplete body",
    "stale_lease": "Stale lease",
    "not_stored": "Not stored",
    "overloaded": "Overloaded",
    "internal": "Internal error",
}
OVERLOADED_RETRY_AFTER_S = 1


def json_response(body: Any, *, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type=JSON)


def problem(status: int, code: str, detail: str, **extensions: str) -> dict[str, Any]:
    """The problem details of one error. A code outside TITLES (an HTTP error
    aiohttp raised that this service does not name) gets `about:blank` and
    the status's phrase, as RFC 9457 (4.2.1) has it."""
    title = TITLES.get(code)
    return {
        "type": PROBLEM_TYPE_PREFIX + code if title else "about:blank",
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "error": code,
        "message": detail,
        **extensions,
    }


def error_response(status: int, code: str, detail: str, **extensions: str) -> web.Response:
    """Every 4xx and 5xx this service gives: `extensions` are further members
    (the batch routes name the refused `key`)."""
    body = orjson.dumps(problem(status, code, detail, **extensions))
    return web.Response(body=body, status=status, content_type=PROBLEM_JSON)


def overloaded(detail: str) -> web.Response:
    """503 `overloaded` with Retry-After: a limit on work in progress is full."""
    response = error_response(503, "overloaded", detail)
    response.headers["Retry-After"] = str(OVERLOADED_RETRY_AFTER_S)
    return response


def over_budget() -> web.Response:
    """503 `overloaded`: the byte budget (CACHE_INFLIGHT_MAX_BYTES) is spent;
    the request was not carried out (a PUT stored nothing)."""
    return overloaded("Too many request and answer bytes in flight (CACHE_INFLIGHT_MAX_BYTES); "
                      "nothing was done; retry after the given seconds.")
