"""The building blocks of the OpenAPI document: shared schemas, headers,
parameters and the error answers, as plain data and small functions.

Every error this service gives is an RFC 9457 problem
(`application/problem+json`, service.http.responses): `type`, `title`,
`status`, `detail`, and the `error` code and `message` members callers
read before; `error()` describes one status with the codes it can carry
(enums of the codes, their types and titles, so a code the document does
not name fails the fuzzer), and the batch routes' errors may add `"key"`
naming the key refused.
"""

from __future__ import annotations

from typing import Any

from service.http.responses import PROBLEM_JSON, PROBLEM_TYPE_PREFIX, TITLES

Json = dict[str, Any]

JSON = "application/json"
HEALTH_JSON = "application/health+json"
SECURITY_SCHEME = "bearerToken"


def ref(kind: str, name: str) -> Json:
    return {"$ref": f"#/components/{kind}/{name}"}


def json_content(schema: Json, example: Any = None, media_type: str = JSON) -> Json:
    media: Json = {"schema": schema}
    if example is not None:
        media["example"] = example
    return {media_type: media}


def strict(required: dict[str, Json], optional: dict[str, Json] | None = None) -> Json:
    """An object of exactly these properties (`required` always present)."""
    return {
        "type": "object",
        "required": list(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
    }


STRING: Json = {"type": "string"}
COUNT: Json = {"type": "integer", "minimum": 0}
NULLABLE_STRING: Json = {"type": ["string", "null"]}
# The seven states of the link (statemachine/states.py).
LINK_STATE: Json = {
    "type": "string",
    "enum": ["disconnected", "connecting", "ready", "error", "reconnecting", "failed", "closed"],
}
WHERE_STORED: Json = {"type": "string", "enum": ["redis", "memory"]}
KEY: Json = {"type": "string", "pattern": "^[A-Za-z0-9._~:-]{1,512}$"}
# A tag (CACHE_TAG_MAX_CHARS, 128 by default; service/http/tag_syntax.py).
TAG: Json = {"type": "string", "pattern": "^[A-Za-z0-9._~:-]{1,128}$"}
TAGS: Json = {"type": "array", "items": TAG, "minItems": 1, "maxItems": 16}

# Headers, by the name they carry. `X-Request-ID` is on every answer.
HEADERS: Json = {
    "X-Request-ID": {
        "description": "The request's id: the caller's own X-Request-ID when it is a sane "
        "one, else a new one. Logged with every line written while the request is handled.",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
    },
    "X-Cache": {
        "description": "Where the answer came from.",
        "required": True,
        "schema": {"type": "string", "enum": ["hit-memory", "hit-redis", "hit-fill"]},
    },
    "X-Cache-Miss": {
        "description": "On a miss (not on an unknown namespace's 404).",
        "schema": {"type": "string", "enum": ["miss"]},
    },
    "Cache-Status": {
        "description": "X-Cache in RFC 9211's terms: `roleready; hit; detail=memory` or "
        "`detail=redis`; `roleready; fwd=miss; collapsed` for `hit-fill` (a lease waiter "
        "given the holder's value); a stale value adds its negative `ttl` (seconds of "
        "freshness left).",
        "required": True,
        "schema": {"type": "string", "pattern": "^roleready; (hit(; ttl=-?[0-9]+)?; "
                   "detail=(memory|redis)|fwd=miss; collapsed)$"},
        "example": "roleready; hit; detail=memory",
    },
    "Cache-Status-Miss": {
        "description": "On a miss (not on an unknown namespace's 404): RFC 9211's "
        "`fwd=miss`, the caller being the origin that computes the value.",
        "schema": {"type": "string", "enum": ["roleready; fwd=miss"]},
    },
    "X-Cache-Degraded": {
        "description": "Present while the Redis link is not ready: the answer came from memory.",
        "schema": {"type": "string", "enum": ["redis-unavailable"]},
    },
    "X-Cache-Stored": {
        "description": "Where the write or delete landed: Redis (and memory, when the value "
        "fits), or memory alone.",
        "required": True,
        "schema": WHERE_STORED,
    },
    "X-Cache-Lease-Token": {
        "description": "With `?lease=1`: a lease token for this caller to compute (or "
        "refresh) the value and PUT it with this header.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    },
    "X-Cache-Lease-Miss": {
        "description": "With `?lease=1`: this caller's lease token, or `pending` when another "
        "caller holds the lease and `wait_ms` ran out.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
    },
    "X-Cache-Stale": {
        "description": "With `?lease=1`: the value is past its TTL, within the namespace's "
        "stale window.",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "X-Cache-Tags": {
        "description": "The value's tags, as its PUT gave them (only on hits of tagged values).",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._~:-]+(, [A-Za-z0-9._~:-]+)*$"},
        "example": "candidate:42, job:7",
    },
    "Age": {
        "description": "Whole seconds since the value was stored (on hits of values with "
        "times: every value written since the stored format v2).",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "ETag": {
        "description": "The value's version: the same from either tier and on every "
        "instance, new with every PUT. Send it back in If-None-Match.",
        "required": True,
        "schema": {"type": "string", "pattern": '^"[0-9a-f]{16}"$'},
        "example": '"3f2c9a0b7d41e685"',
    },
    "Cache-Control": {
        "description": "`max-age=<the value's whole TTL in seconds>`: with Age, a caller's "
        "cache keeps it for max-age - Age more seconds, the TTL left (RFC 9111).",
        "schema": {"type": "string", "pattern": "^max-age=[0-9]+$"},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Location": {
        "description": "Where the purge's progress can be read.",
        "required": True,
        "schema": {"type": "string", "pattern": "^/cache/[a-z0-9_]+/_purge/[A-Za-z0-9_-]+$"},
    },
    "WWW-Authenticate": {
        "required": True,
        "schema": {"type": "string", "enum": ["Bearer"]},
    },
}


# Component ids whose header name differs: one header, described per answer.
HEADER_NAMES = {
    "X-Cache-Miss": "X-Cache",
    "Cache-Status-Miss": "Cache-Status",
    "X-Cache-Lease-Token": "X-Cache-Lease",
    "X-Cache-Lease-Miss": "X-Cache-Lease",
}


def headers(*ids: str) -> Json:
    """The headers of these component ids, plus X-Request-ID (on every answer)."""
    return {HEADER_NAMES.get(i, i): ref("headers", i) for i in ("X-Request-ID", *ids)}


def error_schema(codes: list[str], keyed: bool = False) -> Json:
    required: dict[str, Json] = {
        "type": {"type": "string", "enum": [PROBLEM_TYPE_PREFIX + code for code in codes]},
        "title": {"type": "string", "enum": sorted({TITLES[code] for code in codes})},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": STRING,
        "error": {"type": "string", "enum": codes},
        "message": {**STRING, "description": "The same as `detail`, for the callers that "
                    "read it before problem details; removed in the next minor release."},
    }
    return strict(required, {"key": STRING} if keyed else None)


def with_statuses(paths: Json) -> Json:
    """`paths` with each problem answer's `status` member fixed to its status
    code (`error()` is written inside its answers' dict, not knowing it)."""
    for item in paths.values():
        for operation in item.values():
            for status, answer in operation["responses"].items():
                media = answer.get("content", {}).get(PROBLEM_JSON)
                if media is not None:
                    media["schema"]["properties"]["status"] = {"type": "integer",
                                                               "const": int(status)}
                    media["example"]["status"] = int(status)
    return paths


def error(
    description: str, *codes: str, answer_headers: tuple[str, ...] = (), keyed: bool = False
) -> Json:
    """One error answer: the status's codes, its headers, an example."""
    code = codes[0]
    example = {"type": PROBLEM_TYPE_PREFIX + code, "title": TITLES[code], "status": 400,
               "detail": description, "error": code, "message": description}
    return {
        "description": description,
        "headers": headers(*answer_headers),
        "content": json_content(error_schema(list(codes), keyed), example, PROBLEM_JSON),
    }


def cache_errors(degraded: bool = True) -> Json:
    """What the per-request layer may answer on any /cache/ route."""
    extra = ("X-Cache-Degraded",) if degraded else ()
    return {
        "401": unauthorized(),
        "503": error("Too many requests in progress (HTTP_MAX_INFLIGHT); retry after the "
                     "given seconds.", "overloaded", answer_headers=("Retry-After", *extra)),
    }


def forbidden() -> Json:
    """403: a valid token whose caller lacks the right or the namespace."""
    answer = error("The token's caller lacks the right (named in `right`) or the namespace "
                   "(named in `namespace`) this request needs.", "forbidden")
    schema = answer["content"][PROBLEM_JSON]["schema"]
    schema["properties"] = {
        **schema["properties"],
        "status": {"type": "integer", "const": 403},
        "right": {"type": "string", "enum": ["read", "write", "purge", "observe"]},
        "namespace": STRING,
    }
    detail = "Caller 'search-team' lacks the right 'write' this request needs."
    answer["content"][PROBLEM_JSON]["example"] = {
        **answer["content"][PROBLEM_JSON]["example"], "status": 403, "right": "write",
        "detail": detail, "message": detail}
    return answer


def unauthorized() -> Json:
    return error("The token is missing or wrong (only when the service has one).",
                 "unauthorized", answer_headers=("WWW-Authenticate",))


def unknown_namespace(*codes: str, answer_headers: tuple[str, ...] = ("X-Cache-Degraded",)) -> Json:
    return error("No namespace of that name is configured.", "unknown_namespace", *codes,
                 answer_headers=answer_headers)


def body_timeout() -> Json:
    return error("The body did not arrive in full within HTTP_BODY_TIMEOUT_MS; nothing was "
                 "stored.", "request_timeout", answer_headers=("X-Cache-Degraded",))


PARAMETERS: Json = {
    "namespace": {
        "name": "namespace",
        "in": "path",
        "required": True,
        "description": "A configured namespace (CACHE_<NAME>_TTL_MS declares one).",
        "schema": {"type": "string", "pattern": "^[a-z0-9_]+$"},
        "example": "default",
    },
    "key": {
        "name": "key",
        "in": "path",
        "required": True,
        "description": "1-512 characters of letters, digits and `. _ ~ : -`.",
        "schema": KEY,
        "example": "job:42",
    },
    "tags": {
        "name": "X-Cache-Tags",
        "in": "header",
        "description": "The value's tags, comma-separated (at most CACHE_TAGS_MAX, each 1 to "
        "CACHE_TAG_MAX_CHARS characters of letters, digits and `. _ ~ : -`): "
        "`POST /cache/{namespace}/_invalidate` drops every value carrying one.",
        "schema": {"type": "string",
                   "pattern": "^[A-Za-z0-9._~:-]{1,128}(, ?[A-Za-z0-9._~:-]{1,128}){0,15}$"},
        "example": "candidate:42, job:7",
    },
    "lease_token": {
        "name": "X-Cache-Lease",
        "in": "header",
        "description": "A lease token from a `?lease=1` GET.",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
        "example": "rAbc123",
    },
}

SCHEMAS: Json = {
    # Any error's shape (each answer's own schema names its codes).
    "Problem": error_schema(sorted(TITLES), keyed=True),
}


def head_of(get: Json) -> Json:
    """The HEAD twin of a GET operation: aiohttp answers HEAD by running the
    GET handler and dropping the body, so the same answers without content."""
    responses = {
        status: {name: value for name, value in answer.items() if name != "content"}
        for status, answer in get["responses"].items()
    }
    return {
        **get,
        "operationId": get["operationId"] + "Head",
        "summary": get["summary"] + " (headers only)",
        "responses": responses,
    }
