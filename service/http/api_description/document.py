"""The OpenAPI 3.1 document: the described paths put together, then fitted
to one instance.

    cache_paths + batch_paths + service_paths + parts' components ─► DOCUMENT
    DOCUMENT + this instance's settings ─► for_instance(): its namespaces (an
        enum), its wait_ms bound, and the bearer token (401, 403) only when it
        has one

Why fitted: a client of this instance can only use its configured
namespaces, and /cache/ and the observing routes need `Authorization` only
when a token is configured (CACHE_API_TOKEN, its file, CACHE_API_TOKENS_FILE);
a document that said otherwise would be wrong for that instance (and the
fuzzer, which trusts it, would call a correct answer a failure).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

from service import __version__
from service.config import Settings
from service.http.api_description import batch_paths, cache_paths, parts, service_paths
from service.http.api_description.parts import SECURITY_SCHEME, Json

PROTECTED_PREFIX = "/cache/"
# The routes that need the `observe` right when the service has tokens
# (service/http/access.py): all but the load balancers' two probes.
OBSERVING = ("/metrics", "/health/detailed", "/health/events", "/api/status", "/openapi.json")
# The path-item keys that are operations (OpenAPI 3.1, 4.8.9).
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

DOCUMENT: Json = {
    "openapi": "3.1.0",
    "info": {
        "title": "roleready-cache",
        "version": __version__,
        "description": "A two-tier cache (an in-process LRU in front of Redis) that keeps "
        "answering while Redis fails. Every error is an RFC 9457 problem "
        "(`application/problem+json`) that also carries the service's `error` code; every "
        "answer carries `X-Request-ID`.",
    },
    "paths": parts.with_statuses(
        {**cache_paths.PATHS, **batch_paths.PATHS, **service_paths.PATHS}),
    "components": {
        "schemas": parts.SCHEMAS,
        "parameters": parts.PARAMETERS,
        "headers": parts.HEADERS,
        "securitySchemes": {
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "`Authorization: Bearer <token>`, required on /cache/ and the "
                "observing routes when the service has tokens: CACHE_API_TOKEN (every "
                "right) or a caller of CACHE_API_TOKENS_FILE (its rights: read, write, "
                "purge, observe; its namespaces).",
            },
        },
    },
}


def operations(document: Json) -> Iterator[tuple[str, str, Json]]:
    """(METHOD, path, operation) for every operation, in document order."""
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def for_instance(settings: Settings, token: bool) -> Json:
    """DOCUMENT fitted to an instance with these settings and a token (or none)."""
    document = copy.deepcopy(DOCUMENT)
    _fit_parameters(document["components"]["parameters"], settings)
    # One object per schema, shared by the operations that use it (deepcopy
    # keeps the sharing): each is fitted once.
    limits = {
        "wait_ms": {"maximum": settings.cache_lease_wait_max_ms},
        # The largest namespace TTL: a shorter namespace refuses more (400 bad_ttl_ms).
        "ttl_ms": {"maximum": max(settings.namespace_ttls_ms.values())},
        "keys": {"maxItems": settings.cache_batch_max_keys},
        "entries": {"maxProperties": settings.cache_batch_max_keys},
        **_tag_limits(settings),
    }
    document["components"]["parameters"]["tags"]["schema"].update(limits["X-Cache-Tags"])
    for _, path, operation in operations(document):
        for parameter in operation.get("parameters", []):
            parameter.get("schema", {}).update(limits.get(parameter.get("name"), {}))
        body = operation.get("requestBody", {}).get("content", {}).get(parts.JSON)
        if body is not None:
            for name, schema in body["schema"]["properties"].items():
                schema.update(limits.get(name, {}))
                if name == "tags":  # shared with `_mset`'s entries and the answer
                    schema["items"].update(limits["tag"])
                schema.get("additionalProperties", {}).get("properties", {}).get(
                    "ttl_ms", {}).update(limits["ttl_ms"])
        _fit_security(path, operation, token)
    return document


def _fit_security(path: str, operation: Json, token: bool) -> None:
    """With tokens, the guarded routes name the scheme and answer 401 and 403;
    without, nothing is guarded."""
    if not (path.startswith(PROTECTED_PREFIX) or path in OBSERVING):
        return
    responses = operation["responses"]
    if token:
        operation["security"] = [{SECURITY_SCHEME: []}]
        responses.setdefault("401", parts.unauthorized())
        responses["403"] = parts.forbidden()
    else:
        responses.pop("401", None)


def _tag_limits(settings: Settings) -> Json:
    """CACHE_TAGS_MAX and CACHE_TAG_MAX_CHARS in the tags' schemas."""
    tag = f"[A-Za-z0-9._~:-]{{1,{settings.cache_tag_max_chars}}}"
    return {
        "tags": {"maxItems": settings.cache_tags_max},
        "tag": {"pattern": f"^{tag}$"},
        "X-Cache-Tags": {"pattern": f"^{tag}(, ?{tag}){{0,{settings.cache_tags_max - 1}}}$"},
    }


def _fit_parameters(parameters: Json, settings: Settings) -> None:
    """The namespace parameter names this instance's namespaces."""
    namespaces = sorted(settings.namespace_ttls_ms)
    parameters["namespace"]["schema"]["enum"] = namespaces
    parameters["namespace"]["example"] = "default" if "default" in namespaces else namespaces[0]
