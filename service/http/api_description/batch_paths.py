"""The batch routes and the purge of a namespace (service/http/batch_api.py)
described: request bodies as the handlers read them (extra fields are
ignored, so request objects stay open), answers exactly as they are built
(closed objects)."""

from __future__ import annotations

from service.http.api_description.parts import (
    COUNT,
    KEY,
    STRING,
    TAG,
    TAGS,
    WHERE_STORED,
    Json,
    body_timeout,
    cache_errors,
    error,
    headers,
    json_content,
    ref,
    strict,
    unknown_namespace,
)

NAMESPACE = [ref("parameters", "namespace")]
DEGRADED = ("X-Cache-Degraded",)
KEYS_BODY = {
    "required": True,
    "content": json_content(
        {"type": "object", "required": ["keys"],
         "properties": {"keys": {"type": "array", "items": KEY}}},
        {"keys": ["job:42", "job:43"]},
    ),
}
BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
ENTRY = {
    "type": "object",
    "required": ["value"],
    "properties": {
        "value": STRING,
        "encoding": {"type": "string", "enum": ["utf-8", "base64"]},
        # Printable ASCII (media types are), as the stored format holds it.
        "contentType": {"type": "string", "pattern": "^[ -~]{1,255}$"},
        "ttl_ms": {"type": "integer", "minimum": 1},
        "tags": TAGS,
    },
    # UTF-8 text (the default), or base64 that decodes.
    "anyOf": [
        {"properties": {"encoding": {"const": "utf-8"}}},
        {"properties": {"encoding": {"const": "base64"}, "value": {"pattern": BASE64}}},
    ],
}
HIT = strict({
    "value": STRING,
    "encoding": {"type": "string", "enum": ["utf-8", "base64"]},
    "contentType": STRING,
    "source": {"type": "string", "enum": ["memory", "redis"]},
})
UNREAD = ("The keys this answer neither carries nor calls a miss: their values would "
          "have taken the answer past CACHE_BATCH_MAX_ANSWER_BYTES. Empty when every key "
          "was read; otherwise POST them again (the answer to that carries at least one "
          "value, so continuing always ends).")
PURGE_JOB = strict({
    "id": STRING,
    "namespace": STRING,
    "state": {"type": "string", "enum": ["running", "done", "deferred"]},
    "unlinked": COUNT,
    "forgottenInMemory": COUNT,
    "startedAtMs": COUNT,
    "finishedAtMs": {"type": ["integer", "null"], "minimum": 0},
})
PURGE_EXAMPLE = {"id": "3f2a9c0d1b7e4a55", "namespace": "ai_draft", "state": "running",
                 "unlinked": 0, "forgottenInMemory": 12, "startedAtMs": 1767225600000,
                 "finishedAtMs": None}


def batch_errors() -> Json:
    """What every batch route may refuse with: a bad body or key (named), too many keys,
    too large a body or value, a body too slow to arrive."""
    return {
        "400": error("A bad body, key, value, encoding, content type or ttl_ms, too many "
                     "keys (CACHE_BATCH_MAX_KEYS), or a body cut short: nothing was read "
                     "or written.",
                     "bad_body", "bad_key", "bad_value", "bad_content_type", "bad_ttl_ms",
                     "too_many_keys", "incomplete_body", "bad_tags", answer_headers=DEGRADED, keyed=True),
        "404": unknown_namespace(),
        "408": body_timeout(),
        "413": error("The body (CACHE_BATCH_MAX_BYTES) or a value (CACHE_MAX_VALUE_BYTES) is "
                     "too large.", "too_large", answer_headers=DEGRADED, keyed=True),
        **cache_errors(),
    }


def batch(operation_id: str, summary: str, description: str, body: Json, answer: Json,
          example: Json) -> Json:
    return {
        "operationId": operation_id,
        "summary": summary,
        "description": description,
        "parameters": NAMESPACE,
        "requestBody": body,
        "responses": {
            "200": {"description": summary, "headers": headers(*DEGRADED),
                    "content": json_content(answer, example)},
            **batch_errors(),
        },
    }


MGET = batch(
    "getMany", "Read many keys",
    '`{"keys": [...]}` → 200 `{"hits": {key: {"value", "encoding": "utf-8" | "base64", '
    '"contentType", "source": "memory" | "redis"}}, "misses": [...], "unread": [...]}`, below; '
    "an answer carries at most CACHE_BATCH_MAX_ANSWER_BYTES of values (at least one): the "
    "keys it did not read are `unread`, to ask for again",
    KEYS_BODY,
    strict({"hits": {"type": "object", "propertyNames": KEY, "additionalProperties": HIT},
            "misses": {"type": "array", "items": KEY},
            "unread": {"type": "array", "items": KEY, "description": UNREAD}}),
    {"hits": {"job:42": {"value": "{}", "encoding": "utf-8", "contentType": "application/json",
                         "source": "memory"}}, "misses": ["job:43"], "unread": []},
)
MSET = batch(
    "putMany", "Store many values",
    '`{"entries": {key: {"value", "encoding"?, "contentType"?, "ttl_ms"?, "tags"?}}}` → 200 '
    '`{"stored": {key: "redis" | "memory"}, "notStored": [...]}`',
    {"required": True, "content": json_content(
        {"type": "object", "required": ["entries"],
         "properties": {"entries": {"type": "object", "propertyNames": KEY,
                                   "additionalProperties": ENTRY}}},
        {"entries": {"job:42": {"value": "{}", "contentType": "application/json"}}},
    )},
    strict({"stored": {"type": "object", "propertyNames": KEY,
                       "additionalProperties": WHERE_STORED},
            "notStored": {"type": "array", "items": KEY}}),
    {"stored": {"job:42": "redis"}, "notStored": []},
)
MDELETE = batch(
    "deleteMany", "Remove many keys",
    '`{"keys": [...]}` → 200 `{"deleted": {key: "redis" | "memory"}}`',
    KEYS_BODY,
    strict({"deleted": {"type": "object", "propertyNames": KEY,
                        "additionalProperties": WHERE_STORED}}),
    {"deleted": {"job:42": "redis"}},
)

PURGE: Json = {
    "operationId": "purgeNamespace",
    "summary": "Purge a namespace",
    "description": "purge the whole namespace fleet-wide: 202, the job as JSON and "
    "`Location: /cache/{namespace}/_purge/{id}`",
    "parameters": NAMESPACE,
    "responses": {
        "202": {"description": "The purge runs in the background.",
                "headers": headers("Location", *DEGRADED),
                "content": json_content(PURGE_JOB, PURGE_EXAMPLE)},
        "404": unknown_namespace(),
        **cache_errors(),
    },
}
PURGE_STATUS: Json = {
    "operationId": "purgeStatus",
    "summary": "A purge's progress",
    "description": 'that purge\'s progress: `{"id", "namespace", "state": "running" | "done" '
    '| "deferred", "unlinked", "forgottenInMemory", "startedAtMs", "finishedAtMs"}` (on the '
    "instance that runs it; 404 elsewhere)",
    "parameters": [*NAMESPACE, {"name": "job", "in": "path", "required": True,
                                "schema": {"type": "string"}, "example": PURGE_EXAMPLE["id"]}],
    "responses": {
        "200": {"description": "The job.", "headers": headers(*DEGRADED),
                "content": json_content(PURGE_JOB, {**PURGE_EXAMPLE, "state": "done"})},
        "404": error("No such purge on this instance.", "unknown_purge", answer_headers=DEGRADED),
        **cache_errors(),
    },
}

INVALIDATE: Json = {
    "operationId": "invalidateTags",
    "summary": "Invalidate tags",
    "description": '`{"tags": [...]}` → 200: no instance serves a value of the namespace '
    "carrying one of them that was written before this answer (docs/consistency.md)",
    "parameters": NAMESPACE,
    "requestBody": {"required": True, "content": json_content(
        {"type": "object", "required": ["tags"], "properties": {"tags": TAGS}},
        {"tags": ["candidate:42"]},
    )},
    "responses": {
        "200": {"description": "Invalidated.", "headers": headers(*DEGRADED),
                "content": json_content(strict({
                    "tags": {"type": "array", "items": TAG},
                    "invalidatedAt": {"type": "string", "format": "date-time"},
                    "invalidatedAtUs": COUNT,
                    "appliedIn": WHERE_STORED,
                }), {"tags": ["candidate:42"], "invalidatedAt": "2026-12-06T10:00:00.000Z",
                     "invalidatedAtUs": 1796551200000000, "appliedIn": "redis"})},
        "400": error("A bad body or tag, or too many tags (CACHE_TAGS_MAX): nothing was "
                     "invalidated.", "bad_tags", answer_headers=DEGRADED),
        "404": unknown_namespace(),
        "408": body_timeout(),
        "413": error("The body (CACHE_BATCH_MAX_BYTES) is too large.", "too_large",
                     answer_headers=DEGRADED),
        **cache_errors(),
    },
}

PATHS: Json = {
    "/cache/{namespace}/_mget": {"post": MGET},
    "/cache/{namespace}/_mset": {"post": MSET},
    "/cache/{namespace}/_mdelete": {"post": MDELETE},
    "/cache/{namespace}/_invalidate": {"post": INVALIDATE},
    "/cache/{namespace}": {"delete": PURGE},
    "/cache/{namespace}/_purge/{job}": {"get": PURGE_STATUS},
}
