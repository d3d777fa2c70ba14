"""The routes about the service itself described: health (service/http/health.py,
health_report.py, health_json.py), /metrics and /openapi.json. They answer
HEAD as GET without the body. /health and /health/ready are always open; the
others need the `observe` right when the service has tokens (document.py
adds the security and the 401/403 answers for such an instance)."""

from __future__ import annotations

from service.http.api_description.parts import (
    COUNT,
    HEALTH_JSON,
    JSON,
    LINK_STATE,
    NULLABLE_STRING,
    STRING,
    Json,
    error,
    head_of,
    headers,
    json_content,
    strict,
)

BOOLEAN = {"type": "boolean"}
PERCENT = {"type": "string", "pattern": "^[0-9]+\\.[0-9]{2}$"}
TOPOLOGY = {
    "type": "object",
    "required": ["mode"],
    "additionalProperties": False,
    "properties": {
        "mode": {"type": "string", "enum": ["single", "sentinel", "cluster", "disabled"]},
        "master": NULLABLE_STRING,
        "state": LINK_STATE,
        "nodes": {"type": "array", "items": strict({
            "address": STRING, "role": {"type": "string", "enum": ["master"]},
            "state": LINK_STATE, "slots": COUNT,
            "replicas": {"type": "array", "items": STRING}})},
    },
}
REDIS_CHECK = strict({
    "status": {"type": "string", "enum": ["healthy", "unhealthy"]},
    "responseTime": {"type": ["string", "null"], "pattern": "^[0-9]+ms$"},
    "memoryUsed": NULLABLE_STRING,
    "connectionStatus": LINK_STATE,
    "reconnectAttempts": COUNT,
    "lastError": NULLABLE_STRING,
    "lastErrorTime": NULLABLE_STRING,
    "enabled": BOOLEAN,
    "topology": TOPOLOGY,
    # Writes held until a replica confirms them (REDIS_REPLICA_CONFIRM).
    "unconfirmed": strict({"enabled": BOOLEAN, "required": BOOLEAN, "count": COUNT,
                           "oldestAgeMs": {"type": ["integer", "null"], "minimum": 0}}),
})
CACHE_CHECK = strict({
    "memory": strict({"entries": COUNT, "capacity": COUNT, "utilizationPercent": PERCENT,
                      "bytesUsed": COUNT, "maxBytes": COUNT}),
    "redis": strict({
        "enabled": BOOLEAN, "status": LINK_STATE, "hits": COUNT, "misses": COUNT,
        "errors": COUNT, "reconnects": COUNT,
        "hitRate": {"type": "string", "pattern": "^[0-9]+\\.[0-9]{2}%$"},
        "memoryHits": COUNT, "redisHits": COUNT, "coalescedReads": COUNT}),
    "coherence": strict({
        "invalidationStream": {"type": "string", "enum": ["subscribed", "down", "disabled"]},
        "invalidationsReceived": COUNT, "invalidated": COUNT, "forgottenAtReconnect": COUNT,
        "outboxKeys": COUNT, "replays": COUNT, "outboxOverflows": COUNT}),
    "tags": strict({name: COUNT for name in (
        "recordsKnown", "invalidations", "foundInvalidated", "pendingInvalidations")}),
    "leases": strict({name: COUNT for name in (
        "issued", "takenOver", "expired", "filled", "refused", "released", "waiters")}),
})
# With WORKERS > 1 (service/http/instance/instance_health.py): one per worker;
# one that did not answer is only {"worker", "status": "unreachable"}.
WORKER = strict(
    {"worker": COUNT,
     "status": {"type": "string", "enum": ["healthy", "degraded", "unreachable"]}},
    {"pid": COUNT, "connectionStatus": LINK_STATE, "reconnectAttempts": COUNT,
     "lastError": NULLABLE_STRING, "lastErrorTime": NULLABLE_STRING, "draining": BOOLEAN},
)
DETAILED = strict({
    "status": {"type": "string", "enum": ["healthy", "degraded"]},
    "checks": strict({"redis": REDIS_CHECK, "cache": CACHE_CHECK}),
}, {"workers": {"type": "array", "items": WORKER}})
# The IETF draft's document: its checks vary with the topology and carry
# the draft's open set of fields, so only their common core is fixed.
HEALTH_CHECK = {
    "type": "object",
    "required": ["componentType", "status", "time"],
    "properties": {"componentType": STRING, "status": {"type": "string", "enum": ["pass", "warn"]},
                   "time": STRING, "componentId": STRING, "output": STRING},
}
HEALTH_JSON_DOCUMENT = strict(
    {"status": {"type": "string", "enum": ["pass", "warn"]}, "version": STRING,
     "releaseId": STRING, "serviceId": STRING, "description": STRING,
     "checks": {"type": "object", "additionalProperties": {"type": "array", "items": HEALTH_CHECK}}},
    {"notes": {"type": "array", "items": STRING}, "output": STRING},
)
EVENT = {
    "type": "object",
    "description": "A journal event: the envelope below, then the fields of its type.",
    "required": ["seq", "type", "at", "monotonic", "from", "to"],
    "properties": {"seq": COUNT, "type": STRING, "at": STRING, "monotonic": {"type": "number"},
                   "from": STRING, "to": STRING, "stream": STRING},
}
STATUS = strict({
    "status": {"type": "string", "enum": ["ok"]},
    "service": STRING,
    "version": STRING,
    "redis": strict({"enabled": BOOLEAN, "state": LINK_STATE, "url": NULLABLE_STRING}),
    "namespaces": {"type": "array", "items": STRING},
    "build": strict({"version": STRING, "python": STRING, "redisPy": STRING}),
    # Which process answered: with WORKERS > 1, the worker the connection reached.
    "process": strict({"pid": COUNT, "eventLoop": {"type": "string", "enum": ["uvloop", "asyncio"]},
                       "worker": {"type": ["integer", "null"], "minimum": 0},
                       "workers": {"type": "integer", "minimum": 1}}),
})


def probe(operation_id: str, summary: str, description: str, answers: Json,
          parameters: list[Json] | None = None) -> Json:
    return {"operationId": operation_id, "summary": summary, "description": description,
            "parameters": parameters or [], "responses": answers}


def ok(description: str, content: Json) -> Json:
    return {"description": description, "headers": headers(), "content": content}


# /metrics, /health/detailed and /health/events share a small pool of requests
# in progress (service.http.request_layer.OBSERVE_MAX_INFLIGHT).
OBSERVERS_BUSY = {"503": error("More of these requests in progress than the service serves "
                               "at once; retry after the given seconds.", "overloaded",
                               answer_headers=("Retry-After",))}


LIVENESS = probe("liveness", "Liveness", "liveness; never depends on Redis", {
    "200": ok("The process serves.", json_content(
        strict({"status": {"type": "string", "enum": ["ok"]}}), {"status": "ok"})),
})
READINESS = probe("readiness", "Readiness", "readiness; 503 only while draining for shutdown", {
    "200": ok("Serving (memory fallback included).", json_content(
        strict({"status": {"type": "string", "enum": ["ready"]}}), {"status": "ready"})),
    "503": ok("Draining for shutdown.", json_content(
        strict({"status": {"type": "string", "enum": ["draining"]}}), {"status": "draining"})),
})
DETAILED_HEALTH = probe(
    "detailedHealth", "Detailed health",
    "the guide's health document; with `Accept: application/health+json` the IETF draft's "
    "(below)",
    {"200": ok("200 whatever Redis does; `status` says whether Redis is healthy.", {
        **json_content(DETAILED, None),
        **json_content(HEALTH_JSON_DOCUMENT, None, HEALTH_JSON),
    }), **OBSERVERS_BUSY},
    [{"name": "Accept", "in": "header", "schema": {"type": "string"},
      "description": "`application/health+json` for the IETF draft's document."}],
)
EVENTS = probe(
    "events", "Connection journal", "the connection journal (newest last)",
    {"200": ok("The newest events.", json_content(strict({
        "state": LINK_STATE, "dropped": COUNT, "count": COUNT,
        "events": {"type": "array", "items": EVENT}}), None)),
     "400": error("limit is not a whole number from 1 to 1000000.", "bad_limit"),
     **OBSERVERS_BUSY},
    [{"name": "limit", "in": "query", "description": "How many events (default 100).",
      "schema": {"type": "integer", "minimum": 1, "maximum": 1_000_000}}],
)
API_STATUS = probe("status", "Status", "service version, build (Python, redis-py) and Redis "
                   "state", {"200": ok("The service serves.", json_content(STATUS, None))})
METRICS = probe("metrics", "Metrics", "Prometheus text format (families below)", {
    "200": ok("The exposition.", {"text/plain": {"schema": STRING}}), **OBSERVERS_BUSY,
})
OPENAPI = probe("openapi", "This document", "this OpenAPI 3.1 document", {
    "200": ok("The document.", {JSON: {"schema": {"type": "object", "required": ["openapi"]}}}),
})

PATHS: Json = {
    path: {"get": operation, "head": head_of(operation)}
    for path, operation in {
        "/health": LIVENESS,
        "/health/ready": READINESS,
        "/health/detailed": DETAILED_HEALTH,
        "/health/events": EVENTS,
        "/api/status": API_STATUS,
        "/metrics": METRICS,
        "/openapi.json": OPENAPI,
    }.items()
}
