"""The Python clients' protocol without a service: errors read from the JSON
`error` member whatever the Content-Type (today's JSON and RFC 9457 problem
details), keys checked before anything is sent, batch values encoded."""

from __future__ import annotations

import json

import pytest
from roleready_cache_client import BadRequest, Forbidden, NotStored, Overloaded, StaleLease, Unauthorized
from roleready_cache_client.errors import ServerError, error_for
from roleready_cache_client.protocol import Answer, Protocol, entry_from

PROBLEM = {"type": "https://example.test/docs/api.md#stale_lease", "title": "Stale lease",
           "status": 409, "detail": "This lease is no longer the key's.", "error": "stale_lease"}


@pytest.mark.parametrize("content_type", ["application/json", "application/problem+json", ""])
def test_the_error_code_is_read_whatever_the_content_type(content_type: str) -> None:
    error = error_for(409, {"content-type": content_type, "x-request-id": "r1"},
                      json.dumps(PROBLEM).encode())
    assert isinstance(error, StaleLease)
    assert (error.code, error.message, error.request_id) == (
        "stale_lease", "This lease is no longer the key's.", "r1")


def test_codes_decide_before_statuses() -> None:
    body = json.dumps({"error": "not_stored", "message": "m"}).encode()
    error = error_for(503, {"retry-after": "2"}, body)
    assert isinstance(error, NotStored) and error.retry_after == 2.0
    overloaded = error_for(503, {}, b'{"error": "overloaded", "message": "busy"}')
    assert isinstance(overloaded, Overloaded) and overloaded.retry_after == 1.0
    assert isinstance(error_for(401, {}, b"<html>proxy</html>"), Unauthorized)
    assert isinstance(error_for(403, {}, b'{"error": "forbidden", "detail": "no write"}'), Forbidden)
    assert isinstance(error_for(502, {}, b""), ServerError)


def test_keys_are_checked_before_anything_is_sent() -> None:
    protocol = Protocol("default")
    for key in ["", "a/lease", "a b", "x" * 513, "é"]:
        with pytest.raises(BadRequest):
            protocol.get(key)
    assert protocol.get("job:42~a.b-c_d").path == "/cache/default/job:42~a.b-c_d"
    with pytest.raises(ValueError):
        Protocol("Not-A-Namespace")


def test_batch_values_travel_as_text_or_base64() -> None:
    call = Protocol("default", "t").mset({"a": "text", "b": b"\xff\x00"}, ttl_ms=5)
    assert call.headers["Authorization"] == "Bearer t"
    assert json.loads(call.body or b"") == {"entries": {
        "a": {"value": "text", "encoding": "utf-8", "contentType": "text/plain; charset=utf-8",
              "ttl_ms": 5},
        "b": {"value": "/wA=", "encoding": "base64", "contentType": "application/octet-stream",
              "ttl_ms": 5}}}


def test_a_hit_reads_its_headers() -> None:
    entry = entry_from("k", Answer(200, {
        "content-type": "text/plain", "x-cache": "hit-redis", "etag": '"ab"', "age": "3",
        "cache-control": "max-age=60", "x-cache-stale": "true", "x-cache-degraded": "redis-unavailable",
        "x-cache-lease": "rTok", "cache-status": "roleready; hit; detail=redis"}, b"v"))
    assert (entry.source, entry.etag, entry.age_s, entry.max_age_s, entry.stale, entry.degraded,
            entry.refresh_lease, entry.cache_status) == (
        "hit-redis", '"ab"', 3, 60, True, True, "rTok", "roleready; hit; detail=redis")
