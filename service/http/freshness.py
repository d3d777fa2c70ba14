"""HTTP caching semantics of a hit: its validator, its freshness, and 304s.

    a hit ─► ETag: "<16 hex digits of the PUT's version>"          every value
          ─► Cache-Control: max-age=<the value's whole TTL, in s>   } values with times
          ─► Age: <whole seconds since the PUT>                    } (stored format v2)
    GET or HEAD with If-None-Match naming that ETag (or `*`)
          ─► 304 with the same headers and no body

Why max-age is the whole TTL and not what is left of it: RFC 9111 (4.2.3)
has a client's cache add the Age it received to the time the answer spends
with it, and compare that with max-age. So max-age − Age is the TTL left
(to the second), and a shared cache between this service and its caller
ages the answer correctly. Sending the remaining TTL as max-age together
with Age would count the age twice.

The version is 64 random bits drawn per PUT (service.cache.codec), the same
in memory and in Redis and on every instance, so a caller's ETag stays
valid whichever instance and tier answers, and changes with every write,
even of the same bytes. A v1 value gets its version from its bytes and has
no times: it gets an ETag, no Cache-Control and no Age.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from multidict import CIMultiDict

from service.cache.codec import Stamp

ETAG = hdrs.ETAG
CACHE_CONTROL = hdrs.CACHE_CONTROL
AGE = hdrs.AGE
IF_NONE_MATCH = hdrs.IF_NONE_MATCH


def etag(stamp: Stamp) -> str:
    """The strong entity tag of the value `stamp` belongs to."""
    return f'"{stamp.version}"'


def validators(stamp: Stamp) -> list[tuple[str, str]]:
    """A hit's ETag, and for a value with times its Cache-Control."""
    lines: list[tuple[str, str]] = [(ETAG, etag(stamp))]
    stored_at, expires_at = stamp.stored_at_ms, stamp.expires_at_ms
    if stored_at is not None and expires_at is not None:
        lines.append((CACHE_CONTROL, f"max-age={(expires_at - stored_at) // 1000}"))
    return lines


def stored_at_s(stamp: Stamp) -> float | None:
    """When a value with times was stored (epoch seconds); None for v1."""
    stored_at = stamp.stored_at_ms
    return None if stored_at is None or stamp.expires_at_ms is None else stored_at / 1000


def age(stored_at: float, now_s: float) -> str:
    """The Age of a value stored at `stored_at` (epoch seconds) at `now_s`.
    Float seconds: arithmetic on epoch milliseconds (41-bit ints) cost twice
    as much, on every hit."""
    seconds = now_s - stored_at
    # A clock that stepped back since the PUT gives 0, never a negative Age.
    return str(int(seconds)) if seconds > 0 else "0"


def add_freshness(headers: CIMultiDict[str], stamp: Stamp | None, now_s: float) -> None:
    """Add a hit's ETag, and for a value with times its Cache-Control and Age,
    to `headers`, which have none of them yet (the hit header templates).

    `now_s` is wall-clock epoch seconds (the app's clock). An entry without
    a stamp (only the memory tier used on its own has those) gets nothing.
    """
    if stamp is None:
        return
    headers.extend(validators(stamp))
    stored_at = stored_at_s(stamp)
    if stored_at is not None:
        headers.add(AGE, age(stored_at, now_s))


def matches(if_none_match: str, tag: str) -> bool:
    """Does an If-None-Match field name `tag`? RFC 9110 (13.1.2): `*` or a
    list of entity tags compared weakly (a `W/` prefix does not matter)."""
    if if_none_match.strip() == "*":
        return True
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == tag:
            return True
    return False


def not_modified(request: web.Request, headers: CIMultiDict[str]) -> web.Response | None:
    """A 304 carrying a hit's `headers` (no Content-Type: there is no body)
    when the request's If-None-Match names the hit's ETag; else None."""
    if_none_match = request.headers.get(IF_NONE_MATCH)
    tag = headers.get(ETAG)
    if if_none_match is None or tag is None or not matches(if_none_match, tag):
        return None
    headers.popall(hdrs.CONTENT_TYPE, None)
    return web.Response(status=304, headers=headers)
