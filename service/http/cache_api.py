"""GET/HEAD/PUT/DELETE /cache/{namespace}/{key}: parse, call the cache, answer.

These run on every cache request, so each looks the app's resources up once,
and a memory hit is answered at the front door (`memory_answerer`, called by
service.http.front before aiohttp routes the request): synchronously, and without
checking the key or namespace, since only checked ones are ever stored
(namespaces cannot contain ':', so the memory key `namespace:key` is
unambiguous). Every hit carries its ETag, Cache-Control and Age, every
hit and miss its X-Cache and Cache-Status (service.http.cache_status), and a
GET or HEAD whose If-None-Match names the ETag gets a 304
(service.http.freshness); the front door leaves conditional requests to the
handler.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from multidict import CIMultiDict, istr

from service import appkeys
from service.byte_budget import Hold
from service.cache.memory import MemoryTier
from service.cache.two_tier import Lookup, Source, Write
from service.config import Settings
from service.config.callers import READ, WRITE
from service.http import answer_headers, cache_status
from service.http.access import needs
from service.http.bodies import BadRequest, admit, read_body
from service.http.cache_status import CACHE_STATUS
from service.http.entries import (
    DEFAULT_CONTENT_TYPE,
    KEY_PATTERN,
    MAX_CONTENT_TYPE_CHARS,
    degraded,
    marked,
)
from service.http.freshness import (
    add_freshness,
    not_modified,
)
from service.http.held import TimedResponse, answer_hold, hit_answer
from service.http.hits import X_CACHE, hit_head, hit_headers, rendered, renders
from service.http.lease_api import (
    HIT_FILL,
    Refused,
    lease_request,
    lease_token,
    leased_miss,
    refresh_lease,
    release,
    stale_lease,
)
from service.http.numbers import whole_number
from service.http.rendered import RenderedStored, head
from service.http.responses import error_response
from service.http.tag_syntax import X_CACHE_TAGS, BadTags, from_header
from service.http.tag_syntax import header as tags_header

MISS_HEADERS = {X_CACHE: "miss", CACHE_STATUS: cache_status.MISS}
X_CACHE_STORED = istr("X-Cache-Stored")
# Seconds a client should wait before retrying a PUT that could not be stored
# (the first reconnect attempt comes after REDIS_BACKOFF_BASE_MS, 1 s).
NOT_STORED_RETRY_AFTER_S = 1
ENTRY_PATH = "/cache/{namespace}/{key}"


def _target(request: web.Request, settings: Settings) -> tuple[str, str, int]:
    """The namespace, key and namespace TTL (ms) of a /cache/ request."""
    namespace, key, ttl_ms = _in_namespace(request, settings)
    _check_key(key)
    return namespace, key, ttl_ms


def _in_namespace(request: web.Request, settings: Settings) -> tuple[str, str, int]:
    """The namespace (404 unless configured), the unchecked key, the namespace TTL."""
    match = request.match_info
    namespace = match["namespace"]
    ttl_ms = settings.namespace_ttls_ms.get(namespace)
    if ttl_ms is None:
        raise BadRequest(
            error_response(404, "unknown_namespace", f"No namespace named {namespace!r}.")
        )
    return namespace, match["key"], ttl_ms


def _check_key(key: str) -> None:
    if KEY_PATTERN.fullmatch(key) is None:
        raise BadRequest(
            error_response(
                400,
                "bad_key",
                "Keys are 1-512 characters of letters, digits and . _ ~ : -",
            )
        )


def _ttl(request: web.Request, namespace_ttl_ms: int) -> int:
    if "?" not in request.raw_path:
        return namespace_ttl_ms  # no query string: nothing to parse
    raw = request.query.get("ttl_ms")
    if raw is None:
        return namespace_ttl_ms
    ttl_ms = whole_number(raw, 1, namespace_ttl_ms)
    if ttl_ms is None:
        raise BadRequest(
            error_response(
                400,
                "bad_ttl_ms",
                f"ttl_ms must be a whole number from 1 to {namespace_ttl_ms} "
                "(it may shorten the namespace TTL, never extend it).",
            )
        )
    return ttl_ms


@needs(READ, namespaced=True)
async def get_entry(request: web.Request) -> web.Response:
    app = request.app
    cache = app[appkeys.CACHE]
    settings = app[appkeys.SETTINGS]
    wait_ms = None
    if "?" in request.raw_path:  # no query string: no lease asked for
        asked = lease_request(request, settings)
        if isinstance(asked, web.Response):
            return marked(asked, app)
        wait_ms = asked.wait_ms if asked.wanted else None
    try:
        namespace, key, _ = _in_namespace(request, settings)
        entry = cache.get_memory(namespace, key)
        if entry is not None:  # as the front door answers (service.http.front)
            found = Lookup(entry.value, entry.content_type, Source.MEMORY, entry.stamp)
            return await _leased_hit(request, found) if wait_ms is not None else _hit(request, found)
        _check_key(key)
    except BadRequest as bad:
        return marked(bad.response, app)
    stored = await cache.get_redis(namespace, key, allow_stale=wait_ms is not None)
    if stored is not None:
        return await _leased_hit(request, stored) if wait_ms is not None else _hit(request, stored)
    if wait_ms is not None:
        answer = await leased_miss(request, namespace, key, wait_ms)
        if isinstance(answer, Lookup):  # the holder's value
            return _hit(request, answer, HIT_FILL)
        response = answer
    else:
        response = error_response(404, "miss", f"No cached value for {namespace}/{key}.")
    response.headers.update(MISS_HEADERS)
    return marked(response, app)


async def _leased_hit(request: web.Request, found: Lookup) -> web.Response:
    """A `?lease=1` hit: the value, and for one caller fleet-wide a token to
    refresh it when it is stale or near its end (service.http.lease_api). A
    large value's bytes are taken first: no token goes to a caller refused."""
    headers = _hit_headers(request, found, found.source)
    try:
        hold = answer_hold(request, len(found.value))
    except BadRequest as refused:
        return refused.response
    match = request.match_info
    answer: web.Response | None = None
    try:
        await refresh_lease(request, match["namespace"], match["key"], found, headers)
        answer = not_modified(request, headers) or hit_answer(request, found.value, headers, hold)
    finally:
        if hold is not None and not isinstance(answer, TimedResponse):
            hold.release()  # failed, cancelled, or a 304: no value to write
    return answer


def _hit(request: web.Request, found: Lookup, source: str | None = None) -> web.Response:
    """A hit's answer: 200 with the value (rendered, or a large one within
    the byte budget, or 503), or 304 when the caller has it."""
    source = source or found.source
    if renders(request, found.value):
        app = request.app
        found_head = hit_head(found.value, found.content_type, found.stamp, source)
        # The request layer gives it its request id (service.http.request_layer).
        return rendered(found.value, found_head, app[appkeys.CLOCK].wall(), "", degraded(app))
    headers = _hit_headers(request, found, source)
    try:
        return not_modified(request, headers) or hit_answer(
            request, found.value, headers, answer_hold(request, len(found.value)))
    except BadRequest as refused:
        return refused.response


def _hit_headers(request: web.Request, found: Lookup, source: str) -> CIMultiDict[str]:
    app = request.app
    headers = hit_headers(found.content_type, source, degraded(app))
    add_freshness(headers, found.stamp, app[appkeys.CLOCK].wall())
    if found.stamp is not None and found.stamp.tags:
        headers[X_CACHE_TAGS] = tags_header(found.stamp.tags)
    return headers


def _content_type(request: web.Request) -> str:
    """The PUT's Content-Type: printable ASCII (media types are), at most 255."""
    value = request.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE
    if len(value) > MAX_CONTENT_TYPE_CHARS or not (value.isascii() and value.isprintable()):
        raise BadRequest(
            error_response(
                400,
                "bad_content_type",
                f"Content-Type must be printable ASCII of at most {MAX_CONTENT_TYPE_CHARS} characters.",
            )
        )
    return value


@needs(WRITE, namespaced=True)
async def put_entry(request: web.Request) -> web.Response:
    """The value's bytes are in the byte budget from before they are read
    until the write is done (service.http.bodies, service.byte_budget)."""
    app = request.app
    hold = Hold(app[appkeys.BYTE_BUDGET])
    try:
        return await _put(request, app, hold)
    finally:
        hold.release()  # every way out: stored, refused, failed, cancelled


async def _put(request: web.Request, app: web.Application, hold: Hold) -> web.Response:
    settings = app[appkeys.SETTINGS]
    try:
        namespace, key, namespace_ttl_ms = _target(request, settings)
        ttl_ms = _ttl(request, namespace_ttl_ms)
        content_type = _content_type(request)
        tags = from_header(request.headers.get(X_CACHE_TAGS), settings)
        token = lease_token(request)
        if isinstance(token, web.Response):
            raise BadRequest(token)
        admit(request, settings.cache_max_value_bytes, hold)
        value = await read_body(request, settings.cache_max_value_bytes, hold=hold)
    except BadTags as bad:
        return marked(error_response(400, "bad_tags", str(bad)), app)
    except BadRequest as bad:
        return marked(bad.response, app)
    if token is None:
        written = await app[appkeys.CACHE].write(
            namespace, key, value, content_type, ttl_ms, tags
        )
    else:
        written = await app[appkeys.LEASES].fill(
            namespace, key, token, value, content_type, ttl_ms, tags
        )
        if written == Refused.STALE:
            return marked(stale_lease(), app)
    if written == Write.NOT_STORED:
        return marked(_not_stored(app[appkeys.LINK].enabled, app[appkeys.CACHE].memory), app)
    return _stored("redis" if written == Write.STORED else "memory", app)


def _not_stored(redis_enabled: bool, memory: MemoryTier) -> web.Response:
    """A value the memory tier does not keep (over 1/16 of CACHE_LRU_MAX_BYTES,
    or the tier disabled): 503 to retry while Redis is unreachable; 413 when
    there is no Redis at all, since retrying cannot help."""
    if not redis_enabled:
        limit = (
            "the memory tier is disabled (CACHE_LRU_MAX_ITEMS=0)" if memory.capacity <= 0
            else f"values are limited to 1/16 of the memory tier's {memory.max_bytes} bytes"
        )
        return error_response(413, "too_large", f"Without Redis, {limit}.")
    response = error_response(
        503, "not_stored",
        "The memory tier does not keep this value and Redis is unreachable; nothing was stored.",
    )
    response.headers["Retry-After"] = str(NOT_STORED_RETRY_AFTER_S)
    return response


@needs(WRITE, namespaced=True)
async def delete_entry(request: web.Request) -> web.Response:
    app = request.app
    try:
        namespace, key, _ = _target(request, app[appkeys.SETTINGS])
    except BadRequest as bad:
        return marked(bad.response, app)
    in_redis = await app[appkeys.CACHE].delete(namespace, key) and app[appkeys.LINK].enabled
    return _stored("redis" if in_redis else "memory", app)


# A write's 204 per X-Cache-Stored value, its constant lines serialized once
# (service.http.rendered): ~1k instructions a line otherwise, on every write.
_STORED_HEADS = {where: head(((X_CACHE_STORED, where), (hdrs.SERVER, answer_headers.SERVER),
                              *answer_headers.CONSTANT.items()), None)
                 for where in ("redis", "memory")}


def _stored(where: str, app: web.Application) -> web.Response:
    """A write's 204, saying where it landed (the request layer gives it its
    request id)."""
    return RenderedStored(_STORED_HEADS[where], "", degraded(app))


@needs(WRITE, namespaced=True)
async def delete_lease(request: web.Request) -> web.Response:
    """The holder gives its lease back (keys cannot contain '/': no clash)."""
    app = request.app
    try:
        namespace, key, _ = _target(request, app[appkeys.SETTINGS])
    except BadRequest as bad:
        return marked(bad.response, app)
    return marked(await release(request, namespace, key), app)


def add_routes(router: web.UrlDispatcher) -> None:
    path = ENTRY_PATH
    router.add_get(path, get_entry)  # and HEAD: aiohttp sends no body
    router.add_put(path, put_entry)
    router.add_delete(path, delete_entry)
    router.add_delete(path + "/lease", delete_lease)
