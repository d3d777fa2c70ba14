"""Cache-Status (RFC 9211) on every answer of GET/HEAD /cache/{namespace}/{key},
beside X-Cache, which it restates in the standard's terms:

    X-Cache: hit-memory   Cache-Status: roleready; hit; detail=memory
    X-Cache: hit-redis    Cache-Status: roleready; hit; detail=redis
    X-Cache: hit-fill     Cache-Status: roleready; fwd=miss; collapsed
    X-Cache: miss (404)   Cache-Status: roleready; fwd=miss
    a stale value         Cache-Status: roleready; hit; ttl=-<s>; detail=<tier>
    (X-Cache-Stale)

`roleready` names this cache. `hit`: answered from a tier. `fwd=miss`: not
in the cache, so the answer goes back to the caller, which is the origin
here (it computes the value and PUTs it). `collapsed`: a `?lease=1` waiter's
request was folded into the lease holder's, and the holder's value reused.
`ttl` (seconds of freshness left) only on stale answers, where it is
negative; elsewhere Cache-Control and Age say it already.

The values are constants, copied into the hit header templates
(service.http.cache_api), so a memory hit pays for one more header entry,
not for building one.
"""

from __future__ import annotations

from multidict import istr

from service.cache.two_tier import Source

CACHE_STATUS = istr("Cache-Status")
CACHE = "roleready"
HIT_FILL = "hit-fill"  # X-Cache of a lease waiter woken by the holder's PUT
# X-Cache's value -> Cache-Status's.
HITS = {
    Source.MEMORY: f"{CACHE}; hit; detail=memory",
    Source.REDIS: f"{CACHE}; hit; detail=redis",
    HIT_FILL: f"{CACHE}; fwd=miss; collapsed",
}
MISS = f"{CACHE}; fwd=miss"
TIERS = {Source.MEMORY: "memory", Source.REDIS: "redis"}


def stale(source: str, fresh_ms: int | None) -> str:
    """A stale hit's Cache-Status: `ttl` is the (negative) freshness left,
    in whole seconds rounded down; left out for a value without times."""
    ttl = "" if fresh_ms is None else f"; ttl={fresh_ms // 1000}"
    return f"{CACHE}; hit{ttl}; detail={TIERS[source]}"
