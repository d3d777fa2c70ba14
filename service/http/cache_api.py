"""GET/PUT/DELETE /cache/{namespace}/{key}: parse, call the cache, answer."""

from __future__ import annotations

import re

from aiohttp import web

from service import keys
from service.http.responses import error_response

# RFC 3986 unreserved characters plus ':' (keys often carry ids like "job:42").
KEY_PATTERN = re.compile(r"[A-Za-z0-9._~:-]{1,512}")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MISS_HEADERS = {"X-Cache": "miss"}


class BadRequest(Exception):
    """Carries the ready 4xx answer from a parsing helper to the handler."""

    def __init__(self, response: web.Response) -> None:
        self.response = response


def _target(request: web.Request) -> tuple[str, str, int]:
    """The namespace, key and namespace TTL (ms) of a /cache/ request."""
    namespace = request.match_info["namespace"]
    key = request.match_info["key"]
    ttl_ms = request.app[keys.SETTINGS].namespace_ttls_ms.get(namespace)
    if ttl_ms is None:
        raise BadRequest(
            error_response(404, "unknown_namespace", f"No namespace named {namespace!r}.")
        )
    if KEY_PATTERN.fullmatch(key) is None:
        raise BadRequest(
            error_response(
                400,
                "bad_key",
                "Keys are 1-512 characters of letters, digits and . _ ~ : -",
            )
        )
    return namespace, key, ttl_ms


def _ttl(request: web.Request, namespace_ttl_ms: int) -> int:
    raw = request.query.get("ttl_ms")
    if raw is None:
        return namespace_ttl_ms
    if not raw.isdigit() or not 1 <= int(raw) <= namespace_ttl_ms:
        raise BadRequest(
            error_response(
                400,
                "bad_ttl_ms",
                f"ttl_ms must be a whole number from 1 to {namespace_ttl_ms} "
                "(it may shorten the namespace TTL, never extend it).",
            )
        )
    return int(raw)


async def _body(request: web.Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes `limit`."""
    too_large = BadRequest(
        error_response(413, "too_large", f"Values are limited to {limit} bytes.")
    )
    declared = request.content_length
    if declared is not None and declared > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def get_entry(request: web.Request) -> web.Response:
    try:
        namespace, key, _ = _target(request)
    except BadRequest as bad:
        return bad.response
    found = await request.app[keys.CACHE].get(namespace, key)
    if found is None:
        response = error_response(404, "miss", f"No cached value for {namespace}/{key}.")
        response.headers.update(MISS_HEADERS)
        return response
    entry, source = found
    return web.Response(
        body=entry.value,
        headers={
            "Content-Type": entry.content_type,
            "X-Cache": "hit-memory" if source == "memory" else "hit-redis",
        },
    )


async def put_entry(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    try:
        namespace, key, namespace_ttl_ms = _target(request)
        ttl_ms = _ttl(request, namespace_ttl_ms)
        value = await _body(request, settings.cache_max_value_bytes)
    except BadRequest as bad:
        return bad.response
    content_type = request.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE
    await request.app[keys.CACHE].put(namespace, key, value, content_type, ttl_ms)
    return web.Response(status=204)


async def delete_entry(request: web.Request) -> web.Response:
    try:
        namespace, key, _ = _target(request)
    except BadRequest as bad:
        return bad.response
    await request.app[keys.CACHE].delete(namespace, key)
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    path = "/cache/{namespace}/{key}"
    app.router.add_get(path, get_entry, allow_head=False)
    app.router.add_put(path, put_entry)
    app.router.add_delete(path, delete_entry)
