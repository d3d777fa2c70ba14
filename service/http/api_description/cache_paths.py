"""The single-key routes (service/http/cache_api.py, lease_api.py) described.

One operation per method of /cache/{namespace}/{key}, each a dict of its
parameters and answers. The edits the API's growth asks for:

- a method: its operation in KEY_PATH (HEAD of the GET:
  `"head": head_of(GET_ENTRY)`, parts.head_of, as the health routes do);
- an answer header on hits (ETag, Cache-Control): its description in
  parts.HEADERS, its id in HIT_HEADERS;
- a request header (If-None-Match): a parameter in GET_ENTRY's list, and a
  "304" in its responses (`{"description": ..., "headers": headers(...)}`,
  no content).

tests/service/test_api_description.py fails until the routes and this agree.
"""

from __future__ import annotations

from service.http.api_description.parts import (
    PARAMETERS,
    Json,
    body_timeout,
    cache_errors,
    error,
    head_of,
    headers,
    ref,
    unknown_namespace,
)

KEY_PARAMETERS = [ref("parameters", "namespace"), ref("parameters", "key")]
BAD_KEY = "bad_key"
DEGRADED = ("X-Cache-Degraded",)
# The headers of a GET's 200 besides Content-Type (the stored one).
HIT_HEADERS = ("X-Cache", "Cache-Status", "ETag", "Cache-Control", "Age", "X-Cache-Degraded",
               "X-Cache-Lease-Token", "X-Cache-Stale", "X-Cache-Tags")
ANY_BODY = {"*/*": {"schema": {"type": "string", "format": "binary"}, "example": "<the value>"}}
# A hit is the bytes stored, under the Content-Type stored: any media type,
# any content (a JSON value stored as application/json reads back as JSON).
STORED_BODY = {"*/*": {"schema": {}, "example": "<the value>"}}

GET_ENTRY: Json = {
    "operationId": "getEntry",
    "summary": "Read a value",
    "description": "the stored body; `X-Cache: hit-memory`, `hit-redis`, or 404 `miss`; every "
    "hit has `ETag`, `Cache-Control: max-age`, `Age`, and `If-None-Match` naming the ETag gets "
    "304 (below); with `lease=1` a miss hands out a lease or waits for its holder's value "
    "(`hit-fill`), below; HEAD: the same without the body",
    "parameters": [
        *KEY_PARAMETERS,
        {"name": "lease", "in": "query", "description": "1: on a miss, hand out a lease or "
         "wait for its holder's value.", "schema": {"type": "string", "enum": ["0", "1"]}},
        {"name": "wait_ms", "in": "query", "description": "How long a `lease=1` miss waits "
         "for the holder (default CACHE_LEASE_WAIT_MS, at most CACHE_LEASE_WAIT_MAX_MS).",
         "schema": {"type": "integer", "minimum": 0, "maximum": 30000}},
        {"name": "If-None-Match", "in": "header", "description": "ETags the caller holds "
         "(or `*`): a hit with one of them is answered 304, without the body.",
         "schema": {"type": "string"}, "example": '"3f2c9a0b7d41e685"'},
    ],
    "responses": {
        "200": {"description": "The stored value, with the Content-Type it was stored with.",
                "headers": headers(*HIT_HEADERS), "content": STORED_BODY},
        "304": {"description": "A hit whose ETag the caller named in If-None-Match: the "
                "hit's headers, no body.", "headers": headers(*HIT_HEADERS)},
        "400": error("A bad key or parameter.", BAD_KEY, "bad_lease", "bad_wait_ms",
                     answer_headers=DEGRADED),
        "404": unknown_namespace("miss", answer_headers=(
            "X-Cache-Miss", "Cache-Status-Miss", "X-Cache-Lease-Miss", "X-Cache-Degraded")),
        **cache_errors(),
    },
}

PUT_ENTRY: Json = {
    "operationId": "putEntry",
    "summary": "Store a value",
    "description": "store (204); `ttl_ms` may shorten the namespace TTL; `X-Cache-Tags` "
    "tags it; with "
    "`X-Cache-Lease: <token>` only while that lease holds (else 409 `stale_lease`)",
    "parameters": [
        *KEY_PARAMETERS,
        {"name": "ttl_ms", "in": "query", "description": "Shortens the namespace's TTL, "
         "never extends it.", "schema": {"type": "integer", "minimum": 1}},
        ref("parameters", "lease_token"),
        ref("parameters", "tags"),
    ],
    "requestBody": {"description": "The value (at most CACHE_MAX_VALUE_BYTES); its "
                    "Content-Type is stored with it.", "content": ANY_BODY},
    "responses": {
        "204": {"description": "Stored.", "headers": headers("X-Cache-Stored", *DEGRADED)},
        "400": error("A bad key, ttl_ms, Content-Type, lease token or tags, or a body cut "
                     "short.", BAD_KEY, "bad_ttl_ms", "bad_content_type", "bad_lease",
                     "bad_tags", "incomplete_body", answer_headers=DEGRADED),
        "404": unknown_namespace(),
        "408": body_timeout(),
        "409": error("The lease is no longer the key's; nothing was changed.", "stale_lease",
                     answer_headers=DEGRADED),
        "413": error("The value is too large.", "too_large", answer_headers=DEGRADED),
        **cache_errors(),
        "503": error("Too many requests in progress (`overloaded`), or the value is too large "
                     "for memory while Redis is unreachable (`not_stored`); retry after the "
                     "given seconds.", "overloaded", "not_stored",
                     answer_headers=("Retry-After", *DEGRADED)),
    },
}

DELETE_ENTRY: Json = {
    "operationId": "deleteEntry",
    "summary": "Remove a value",
    "description": "remove from both tiers (204, idempotent)",
    "parameters": KEY_PARAMETERS,
    "responses": {
        "204": {"description": "Gone from both tiers (or was never there).",
                "headers": headers("X-Cache-Stored", *DEGRADED)},
        "400": error("A bad key.", BAD_KEY, answer_headers=DEGRADED),
        "404": unknown_namespace(),
        **cache_errors(),
    },
}

DELETE_LEASE: Json = {
    "operationId": "releaseLease",
    "summary": "Give a lease back",
    "description": "give a lease back (`X-Cache-Lease: <token>`): 204, or 409 `stale_lease`",
    "parameters": [*KEY_PARAMETERS, {**PARAMETERS["lease_token"], "required": True}],
    "responses": {
        "204": {"description": "Given back: a waiter may get a lease at once.",
                "headers": headers(*DEGRADED)},
        "400": error("A bad key, or no (or a malformed) lease token.", BAD_KEY, "bad_lease",
                     answer_headers=DEGRADED),
        "404": unknown_namespace(),
        "409": error("The lease is no longer the key's; nothing was changed.", "stale_lease",
                     answer_headers=DEGRADED),
        **cache_errors(),
    },
}

KEY_PATH: Json = {
    "get": GET_ENTRY, "head": head_of(GET_ENTRY), "put": PUT_ENTRY, "delete": DELETE_ENTRY,
}

PATHS: Json = {
    "/cache/{namespace}/{key}": KEY_PATH,
    "/cache/{namespace}/{key}/lease": {"delete": DELETE_LEASE},
}
