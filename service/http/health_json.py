"""/health/detailed as `application/health+json`: the IETF draft "Health
Check Response Format for HTTP APIs" (draft-inadarei-api-health-check-06),
for clients that ask for it with `Accept: application/health+json`.

Built from what the guide's document is built from (the same probe, the
link's view and state, the cache's counters); the guide's document stays the
default. The status is `pass` while Redis is ready (or not configured at
all: memory-only is how such an instance is meant to run), and `warn` while
an enabled Redis is not ready (answers come from the memory tier) or the
process drains for shutdown. It is never `fail`: the draft ties `fail` to a
4xx/5xx status, this endpoint answers 200 as the guide's document does, and
a process that answers at all is serving. /health/ready is the one that
turns 503 (draining).
"""

from __future__ import annotations

from typing import Any

from service.build import SERVICE_ID, Build
from service.cache.two_tier import TwoTierCache
from service.link.probe import ProbeResult
from statemachine.projections import LinkView
from statemachine.states import State

HEALTH_JSON = "application/health+json"
PASS, WARN = "pass", "warn"
# Accept ranges that also cover the guide's document (application/json).
_JSON_RANGES = frozenset({"application/json", "application/*", "*/*"})


def wants_health_json(accept: str | None) -> bool:
    """True when `accept` names application/health+json (q > 0) at least as
    high as any range that also takes application/json; a missing header,
    or one that prefers JSON, keeps the guide's document."""
    if not accept or "health+json" not in accept.lower():
        return False
    ours = others = 0.0
    for media_range in accept.lower().split(","):
        media, *params = (part.strip() for part in media_range.split(";"))
        q = _quality(params)
        if media == HEALTH_JSON:
            ours = max(ours, q)
        elif media in _JSON_RANGES:
            others = max(others, q)
    return ours > 0 and ours >= others


def _quality(params: list[str]) -> float:
    """The `q` parameter (RFC 9110 12.4.2), 1 when absent, 0 when malformed."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "q":
            try:
                q = float(value)
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def _check(component_type: str, status: str, time: str, **fields: Any) -> list[dict[str, Any]]:
    """A one-element "checks" entry (the draft's shape for one node)."""
    return [{"componentType": component_type, "status": status, "time": time, **fields}]


def redis_checks(
    topology: dict[str, Any], state: str, enabled: bool, probe: ProbeResult | None,
    view: LinkView, time: str,
) -> dict[str, list[dict[str, Any]]]:
    """`redis:connection` (one element per master), `redis:responseTime`
    (the probe's PING) and `redis:memoryUsage` (INFO's used_memory)."""
    if not enabled:
        return {"redis:connection": _check("datastore", PASS, time, observedValue="disabled")}
    ready = state == State.READY and probe is not None
    trouble = {} if ready else {"output": view.last_error or f"Redis link is {state}"}
    nodes = topology.get("nodes")
    if nodes is not None:  # a cluster: each master's own link
        connection = [
            {"componentId": node["address"], "componentType": "datastore",
             "observedValue": node["state"],
             "status": PASS if node["state"] == State.READY else WARN, "time": time}
            for node in nodes
        ]
    else:
        master = {"componentId": topology["master"]} if topology.get("master") else {}
        connection = _check("datastore", PASS if ready else WARN, time,
                            observedValue=state, **master, **trouble)
    checks = {"redis:connection": connection}
    if probe is None:
        checks["redis:responseTime"] = _check(
            "datastore", WARN, time, output="no answer to PING within the command timeout"
            if state == State.READY else f"not asked: the link is {state}",
        )
        checks["redis:memoryUsage"] = _check("datastore", WARN, time, output="Redis not reachable")
        return checks
    checks["redis:responseTime"] = _check(
        "datastore", PASS, time,
        observedValue=round(probe.response_time_s * 1000, 3), observedUnit="ms",
    )
    if probe.used_memory_bytes is None:  # INFO refused (ACL): healthy, no figure
        memory = _check("datastore", PASS, time, output="Redis did not report used_memory")
    else:
        memory = _check("datastore", PASS, time, observedValue=probe.used_memory_bytes,
                        observedUnit="bytes", maxmemory=probe.maxmemory_bytes)
    checks["redis:memoryUsage"] = memory
    return checks


def cache_checks(cache: TwoTierCache, time: str) -> dict[str, list[dict[str, Any]]]:
    """The memory tier's fill (entries of its capacity) and the hit rate."""
    memory = cache.memory
    stats = cache.stats
    lookups = stats.hits + stats.misses
    return {
        "memoryCache:utilization": _check(
            "component", PASS, time,
            observedValue=round(100.0 * len(memory) / memory.capacity, 2) if memory.capacity else 0.0,
            observedUnit="percent",
            entries=len(memory), capacity=memory.capacity,
            bytesUsed=memory.bytes_used, maxBytes=memory.max_bytes,
        ),
        "cache:hitRate": _check(
            "component", PASS, time,
            observedValue=round(100.0 * stats.hits / lookups, 2) if lookups else 0.0,
            observedUnit="percent", hits=stats.hits, misses=stats.misses,
        ),
    }


def health_json(
    build: Build,
    cache: TwoTierCache,
    view: LinkView,
    state: str,
    enabled: bool,
    probe: ProbeResult | None,
    topology: dict[str, Any],
    draining: bool,
    time: str,
) -> dict[str, Any]:
    """The draft's document; `time` is when the readings were taken (ISO-8601)."""
    checks = redis_checks(topology, state, enabled, probe, view, time)
    checks.update(cache_checks(cache, time))
    notes = []
    if enabled and not (state == State.READY and probe is not None):
        notes.append(f"Redis is not ready ({state}): answering from the memory tier.")
    if draining:
        notes.append("Draining for shutdown: /health/ready answers 503.")
    document: dict[str, Any] = {
        "status": WARN if notes else PASS,
        "version": build.version,
        "releaseId": build.version,
        "serviceId": SERVICE_ID,
        "description": build.description,
    }
    if notes:
        document["notes"] = notes
        if view.last_error and enabled and state != State.READY:
            document["output"] = view.last_error
    document["checks"] = checks
    return document
