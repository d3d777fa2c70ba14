"""The guide's /health/detailed document, built from projections and counters.

Field names and string formats follow the guide exactly ("5ms", "2.5M",
"24.50", "81.65%"); nothing here is a separately kept field: the link's part
comes from the state machine's view, the cache's from its counters.
"""

from __future__ import annotations

from typing import Any

from service.cache.stats import LeaseStats
from service.cache.two_tier import TwoTierCache
from service.http.figures import percent
from service.link.probe import ProbeResult
from service.unconfirmed_metrics import unconfirmed_check
from statemachine.clock import iso_utc
from statemachine.projections import LinkView
from statemachine.states import State


def redis_check(
    view: LinkView, state: str, enabled: bool, probe: ProbeResult | None
) -> dict[str, Any]:
    healthy = enabled and state == State.READY and probe is not None
    return {
        "status": "healthy" if healthy else "unhealthy",
        "responseTime": f"{round(probe.response_time_s * 1000)}ms" if probe else None,
        "memoryUsed": probe.used_memory_human if probe else None,
        "connectionStatus": state,
        "reconnectAttempts": view.reconnect_attempts,
        "lastError": view.last_error,
        "lastErrorTime": iso_utc(view.last_error_time) if view.last_error_time else None,
        "enabled": enabled,
    }


def cache_check(cache: TwoTierCache, view: LinkView, state: str, enabled: bool) -> dict[str, Any]:
    memory = cache.memory
    stats = cache.stats
    return {
        "memory": {
            "entries": len(memory),
            "capacity": memory.capacity,
            "utilizationPercent": percent(len(memory), memory.capacity),
            "bytesUsed": memory.bytes_used,
            "maxBytes": memory.max_bytes,
        },
        "redis": {
            "enabled": enabled,
            "status": state,
            "hits": stats.hits,
            "misses": stats.misses,
            "errors": view.errors_total,
            "reconnects": view.reconnects_total,
            "hitRate": f"{percent(stats.hits, stats.hits + stats.misses)}%",
            "memoryHits": stats.memory_hits,
            "redisHits": stats.redis_hits,
            # Misses that shared another request's Redis read of their key.
            "coalescedReads": stats.coalesced_reads,
        },
        "coherence": {
            # The invalidation stream is part of the link: up exactly when it is ready.
            "invalidationStream": (
                "disabled" if not enabled else "subscribed" if state == State.READY else "down"
            ),
            "invalidationsReceived": stats.invalidations_received,
            "invalidated": stats.invalidated,
            "forgottenAtReconnect": stats.forgotten_at_reconnect,
            "outboxKeys": len(cache.outbox) if cache.outbox is not None else 0,
            "replays": view.replays_total,
            "outboxOverflows": view.outbox_overflows_total,
        },
        "tags": {
            "recordsKnown": len(cache.tags),
            "invalidations": cache.tags.invalidations,
            "foundInvalidated": cache.tags.found_invalidated,
            "pendingInvalidations": len(cache.outbox.tags) if cache.outbox is not None else 0,
        },
    }


def lease_check(leases: LeaseStats) -> dict[str, int]:
    return {
        "issued": leases.issued,
        "takenOver": leases.taken_over,
        "expired": leases.expired,
        "filled": leases.filled,
        "refused": leases.refused,
        "released": leases.released,
        "waiters": leases.waiters,
    }


def detailed_report(
    cache: TwoTierCache,
    view: LinkView,
    state: str,
    enabled: bool,
    probe: ProbeResult | None,
) -> dict[str, Any]:
    redis = redis_check(view, state, enabled, probe)
    redis["unconfirmed"] = unconfirmed_check(cache.unconfirmed)
    return {
        "status": "healthy" if redis["status"] == "healthy" else "degraded",
        "checks": {"redis": redis, "cache": cache_check(cache, view, state, enabled)},
    }
