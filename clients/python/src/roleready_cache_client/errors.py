"""Typed errors: every answer the service refuses becomes one class per kind.

    an answer that is not a success
      ─► its JSON `error` member (whatever the Content-Type says: today's
         application/json and RFC 9457's application/problem+json both carry
         it), else the status alone
      ─► the class for that code (stale_lease, overloaded, not_stored), else
         the class for the status (400, 401, 403, 404, 408, 413, 5xx)

A miss is not an error: `get` answers None, as redis-py and ioredis do.
The service never answers 5xx because Redis is down; a 503 is either
`overloaded` (this instance has too many requests in progress) or
`not_stored` (a value too large for memory while Redis is unreachable),
both with Retry-After.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class CacheError(Exception):
    """Base class. `status` is 0 for errors that never reached the service."""

    def __init__(self, message: str, *, status: int = 0, code: str = "",
                 request_id: str | None = None, body: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.body: Mapping[str, Any] = body or {}


class ConnectionFailed(CacheError):
    """The service could not be reached, or the connection broke."""


class Timeout(CacheError):
    """No (complete) answer within the client's timeout."""


class BadRequest(CacheError):
    """400: a bad key, ttl_ms, body or parameter; nothing changed. `key` names
    the refused key of a batch, when the service named one."""

    @property
    def key(self) -> str | None:
        key = self.body.get("key")
        return key if isinstance(key, str) else None


class Unauthorized(CacheError):
    """401: no token, or a wrong one."""


class Forbidden(CacheError):
    """403: the token is good but lacks the right for this namespace or operation."""


class NotFound(CacheError):
    """404 that is not a miss: an unknown namespace or purge job."""


class RequestTimeout(CacheError):
    """408: the request body did not arrive in time."""


class StaleLease(CacheError):
    """409: the lease is no longer the key's (a write, a delete or another
    holder came after it); nothing changed."""


class TooLarge(CacheError):
    """413: the value or batch is over the service's limit."""


class Unavailable(CacheError):
    """A 503: retry after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float = 1.0, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class Overloaded(Unavailable):
    """503 `overloaded`: too many requests in progress on that instance."""


class NotStored(Unavailable):
    """503 `not_stored`: too large for memory while Redis is unreachable."""


class ServerError(CacheError):
    """Any other answer (a 5xx that is neither of the 503s above)."""


BY_CODE: dict[str, type[CacheError]] = {
    "stale_lease": StaleLease,
    "overloaded": Overloaded,
    "not_stored": NotStored,
    "unauthorized": Unauthorized,
    "forbidden": Forbidden,
}
BY_STATUS: dict[int, type[CacheError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 408: RequestTimeout,
    409: StaleLease, 413: TooLarge, 503: Unavailable,
}


def json_body(body: bytes) -> dict[str, Any]:
    """The answer's JSON object, or {} when it is not one (a proxy's HTML page)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def error_for(status: int, headers: Mapping[str, str], body: bytes) -> CacheError:
    """The typed error for a refused answer (`headers` with lower-case names)."""
    document = json_body(body)
    code = document.get("error")
    code = code if isinstance(code, str) else ""
    # RFC 9457's `detail`, else today's `message`, else the status.
    message = document.get("detail") or document.get("message") or f"HTTP {status}"
    kind = BY_CODE.get(code) or BY_STATUS.get(status) or (
        ServerError if status >= 500 else CacheError)
    common: dict[str, Any] = {"status": status, "code": code, "body": document,
                              "request_id": headers.get("x-request-id")}
    if issubclass(kind, Unavailable):
        return kind(str(message), retry_after=retry_after(headers), **common)
    return kind(str(message), **common)


def retry_after(headers: Mapping[str, str], default: float = 1.0) -> float:
    """Retry-After in seconds (the service sends delta-seconds)."""
    raw = headers.get("retry-after", "")
    try:
        return max(0.0, float(raw))
    except ValueError:
        return default
