"""The lease side of /cache/ (service.cache.leases): `?lease=1` on a GET
that missed, `X-Cache-Lease` on a PUT, and DELETE .../lease.

    GET ?lease=1 (a miss) ─► 404 X-Cache: miss, X-Cache-Lease: <token>   compute it
                          ─► 200 X-Cache: hit-fill                     the holder's value
                          ─► 404 X-Cache-Lease: pending, Retry-After   wait_ms ran out
    PUT + X-Cache-Lease   ─► 204 as a PUT, or 409 stale_lease (nothing changed)
    DELETE .../lease      ─► 204 given back, or 409 stale_lease
"""

from __future__ import annotations

import re

from aiohttp import web
from multidict import CIMultiDict, istr

from service import appkeys
from service.cache.leases import Filled, Granted, Refused
from service.cache.two_tier import Lookup
from service.config import Settings
from service.http import cache_status
from service.http.cache_status import CACHE_STATUS, HIT_FILL
from service.http.numbers import whole_number
from service.http.responses import error_response

X_CACHE_LEASE = istr("X-Cache-Lease")
X_CACHE_STALE = istr("X-Cache-Stale")
# Tokens are the service's own (a letter, then URL-safe base64): anything
# else is refused before anything is looked up.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class LeaseRequest:
    """What a GET asked of leases: whether it wants one, how long it waits."""

    __slots__ = ("wanted", "wait_ms")

    def __init__(self, wanted: bool, wait_ms: int) -> None:
        self.wanted = wanted
        self.wait_ms = wait_ms


def lease_request(request: web.Request, settings: Settings) -> LeaseRequest | web.Response:
    """The GET's `lease` and `wait_ms` parameters, or the 400 answer."""
    query = request.query
    raw_lease = query.get("lease", "0")
    if raw_lease not in ("0", "1"):
        return error_response(400, "bad_lease", "lease must be 1 (ask for a lease) or 0.")
    raw_wait = query.get("wait_ms")
    if raw_wait is None:
        return LeaseRequest(raw_lease == "1", settings.cache_lease_wait_ms)
    limit = settings.cache_lease_wait_max_ms
    wait_ms = whole_number(raw_wait, 0, limit)
    if wait_ms is None:
        return error_response(
            400, "bad_wait_ms", f"wait_ms must be a whole number from 0 to {limit}."
        )
    return LeaseRequest(raw_lease == "1", wait_ms)


def lease_token(request: web.Request) -> str | None | web.Response:
    """The request's X-Cache-Lease token (None without one), or the 400 answer."""
    token = request.headers.get(X_CACHE_LEASE)
    if token is None:
        return None
    if TOKEN_PATTERN.fullmatch(token) is None:
        return error_response(400, "bad_lease", "X-Cache-Lease is not a lease token.")
    return token


async def leased_miss(
    request: web.Request, namespace: str, key: str, wait_ms: int
) -> web.Response | Lookup:
    """A `?lease=1` GET that missed: the value the lease holder's PUT
    brought (hit-fill), or the 404 answer with the lease or `pending`."""
    answer = await request.app[appkeys.LEASES].miss(namespace, key, wait_ms)
    if isinstance(answer, Filled):
        return answer.found
    response = error_response(404, "miss", f"No cached value for {namespace}/{key}.")
    if isinstance(answer, Granted):
        response.headers[X_CACHE_LEASE] = answer.token
    else:
        response.headers[X_CACHE_LEASE] = "pending"
        response.headers["Retry-After"] = str(answer.retry_after_s)
    return response


async def refresh_lease(request: web.Request, namespace: str, key: str, found: Lookup,
                        headers: CIMultiDict[str]) -> None:
    """Mark a stale answer (X-Cache-Stale, and Cache-Status with its negative
    ttl; its Age, like every hit's, comes from service.http.freshness) and,
    when the value is stale or in the last CACHE_<NAME>_REFRESH_AHEAD share
    of its life, try for the one token that refreshes it (X-Cache-Lease)."""
    app = request.app
    cache = app[appkeys.CACHE]
    if found.stale:
        headers[X_CACHE_STALE] = "true"
        headers[CACHE_STATUS] = cache_status.stale(found.source, cache.fresh_ms(found.stamp))
    elif not _near_its_end(found, app[appkeys.SETTINGS].namespace_refresh_ahead.get(namespace),
                           cache.fresh_ms(found.stamp)):
        return
    token = await app[appkeys.LEASES].refresh(namespace, key)
    if token is not None:
        headers[X_CACHE_LEASE] = token


def _near_its_end(found: Lookup, share: float | None, fresh_ms: int | None) -> bool:
    """In the last `share` of the value's life (its stamp's TTL)? A
    deterministic threshold: one token fleet-wide, by the lease's SET NX."""
    stamp = found.stamp
    if not share or fresh_ms is None or stamp is None or stamp.stored_at_ms is None:
        return False
    assert stamp.expires_at_ms is not None
    return fresh_ms <= share * (stamp.expires_at_ms - stamp.stored_at_ms)


def stale_lease() -> web.Response:
    return error_response(
        409, "stale_lease",
        "This lease is no longer the key's (a write, a delete or another holder came "
        "after it was issued); nothing was changed.",
    )


async def release(request: web.Request, namespace: str, key: str) -> web.Response:
    token = lease_token(request)
    if isinstance(token, web.Response):
        return token
    if token is None:
        return error_response(400, "bad_lease", "X-Cache-Lease must carry the lease token.")
    if not await request.app[appkeys.LEASES].release(namespace, key, token):
        return stale_lease()
    return web.Response(status=204)


__all__ = ["HIT_FILL", "Refused", "X_CACHE_LEASE", "leased_miss", "lease_request",
           "lease_token", "refresh_lease", "release", "stale_lease"]
