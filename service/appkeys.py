"""Typed keys for everything the application shares between handlers.

Each resource is created and closed by its own `cleanup_ctx` context in
`service.app`; handlers only read these keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

# Types for mypy alone: at run time this module imports nothing of the
# service, so every layer may read its keys (setup.cfg's import contracts).
if TYPE_CHECKING:
    from service.byte_budget import ByteBudget
    from service.cache.leases import Leases, Pool
    from service.cache.purge import Purges
    from service.cache.two_tier import TwoTierCache
    from service.collectors import Metrics
    from service.config import Settings
    from service.http.access import Guard
    from service.http.instance.peers import Peers
    from service.http.request_ids import RequestIds
    from service.link.interface import Link
    from service.link.probe import SharedProbe
    from service.readiness import Readiness
    from service.telemetry import Tracing
    from statemachine.clock import Clock

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
READINESS: web.AppKey[Readiness] = web.AppKey("readiness")
LINK: web.AppKey[Link] = web.AppKey("redis_link")
# The Redis probe's result, shared for a second by /metrics and /health/detailed.
PROBE: web.AppKey[SharedProbe] = web.AppKey("probe")
CACHE: web.AppKey[TwoTierCache] = web.AppKey("cache")
LEASES: web.AppKey[Leases] = web.AppKey("leases")
# The /cache/ routes' requests in progress (HTTP_MAX_INFLIGHT), which lease
# waiters step out of while they wait (service.http.request_layer).
CACHE_POOL: web.AppKey[Pool] = web.AppKey("cache_pool")
PURGES: web.AppKey[Purges] = web.AppKey("purges")
# Request and answer bytes in flight (CACHE_INFLIGHT_MAX_BYTES): batches, PUT
# bodies, large GET answers.
BYTE_BUDGET: web.AppKey[ByteBudget] = web.AppKey("byte_budget")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
# Present only when OpenTelemetry tracing is on (service.telemetry).
TRACING: web.AppKey[Tracing] = web.AppKey("tracing")
# GET /openapi.json's body (service/http/openapi.py), encoded at start-up.
API_DOCUMENT: web.AppKey[bytes] = web.AppKey("api_document")
# Who may do what (service/http/access.py); SIGHUP re-reads its token files.
GUARD: web.AppKey[Guard] = web.AppKey("guard")
# Names each request (the per-request layer and the front door share it).
REQUEST_IDS: web.AppKey[RequestIds] = web.AppKey("request_ids")
# Only set with WORKERS > 1: this worker's slot and where its siblings listen.
PEERS: web.AppKey[Peers] = web.AppKey("peers")
