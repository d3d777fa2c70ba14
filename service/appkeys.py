"""Typed keys for everything the application shares between handlers.

Each resource is created and closed by its own `cleanup_ctx` context in
`service.app`; handlers only read these keys.
"""

from __future__ import annotations

from aiohttp import web

from service.byte_budget import ByteBudget
from service.cache.leases import Leases, Pool
from service.cache.purge import Purges
from service.cache.two_tier import TwoTierCache
from service.collectors import Metrics
from service.config import Settings
from service.http.access import Guard
from service.http.instance.peers import Peers
from service.link.interface import Link
from service.link.probe import SharedProbe
from service.readiness import Readiness
from service.telemetry import Tracing
from statemachine.clock import Clock

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Clock)
READINESS = web.AppKey("readiness", Readiness)
LINK: web.AppKey[Link] = web.AppKey("redis_link")
# The Redis probe's result, shared for a second by /metrics and /health/detailed.
PROBE = web.AppKey("probe", SharedProbe)
CACHE = web.AppKey("cache", TwoTierCache)
LEASES = web.AppKey("leases", Leases)
# The /cache/ routes' requests in progress (HTTP_MAX_INFLIGHT), which lease
# waiters step out of while they wait (service.http.request_layer).
CACHE_POOL: web.AppKey[Pool] = web.AppKey("cache_pool")
PURGES = web.AppKey("purges", Purges)
# Batch request and answer bytes in flight (CACHE_INFLIGHT_MAX_BYTES).
BYTE_BUDGET = web.AppKey("byte_budget", ByteBudget)
METRICS = web.AppKey("metrics", Metrics)
# Present only when OpenTelemetry tracing is on (service.telemetry).
TRACING = web.AppKey("tracing", Tracing)
# GET /openapi.json's body (service/http/openapi.py), encoded at start-up.
API_DOCUMENT = web.AppKey("api_document", bytes)
# Who may do what (service/http/access.py); SIGHUP re-reads its token files.
GUARD = web.AppKey("guard", Guard)
# Only set with WORKERS > 1: this worker's slot and where its siblings listen.
PEERS = web.AppKey("peers", Peers)
