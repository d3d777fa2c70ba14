"""A hit's answer: its headers from kept templates, and its rendered head
kept per stored value; the memory-hit answerer the front door calls.

    a hit (value, type, stamp, source) ─► a value small enough and no
        If-None-Match? ─► RenderedHit: the value's head (made on its first
        hit of that source, kept by its PUT's version) + Age, X-Request-ID,
        [X-Cache-Degraded] per answer (service.http.rendered)
    otherwise (a 304 to decide, a large value written with a write timeout,
        a lease's extra headers) ─► hit_headers: a copy of the template of its
        (content type, source, degraded), the handler adds the rest

Heads and templates are module-wide (they depend on no app): up to MAX_HEADS
values per source and MAX_HEADER_TEMPLATES content types, each dropped whole
when full (a value's next hit makes its head again).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import hdrs, web
from multidict import CIMultiDict, istr

from service import appkeys
from service.cache.codec import Stamp
from service.cache.two_tier import Source
from service.http import answer_headers, cache_status
from service.http.cache_status import CACHE_STATUS
from service.http.entries import REDIS_UNAVAILABLE, X_CACHE_DEGRADED
from service.http.freshness import IF_NONE_MATCH, age, stored_at_s, validators
from service.http.held import LARGE_ANSWER_BYTES
from service.http.lease_api import lease_request
from service.http.rendered import MAX_HEADS, Head, RenderedHit, head
from service.http.tag_syntax import X_CACHE_TAGS
from service.http.tag_syntax import header as tags_header

X_CACHE = istr("X-Cache")
MAX_HEADER_TEMPLATES = 64
# (request, namespace, key, request id) -> a memory hit's 200, or None.
MemoryAnswerer = Callable[[web.Request, str, str, str], "web.Response | None"]
_templates: dict[tuple[str, str, bool], CIMultiDict[str]] = {}
# Heads by source (hit-memory, hit-redis, hit-fill), then by value version.
_heads: dict[str, dict[str, Head]] = {}


def hit_headers(content_type: str, source: str, degraded: bool) -> CIMultiDict[str]:
    """A hit's headers (`source` a Source value), copied from a kept
    template: aiohttp would otherwise turn a plain dict into a CIMultiDict on
    every answer. Content types come from clients, so only a few dozen
    templates are kept. The constant headers and an active type's
    Content-Disposition are in the template (service.http.answer_headers)."""
    template = _templates.get((content_type, source, degraded))
    if template is None:
        if len(_templates) >= MAX_HEADER_TEMPLATES:
            _templates.clear()
        headers = {hdrs.CONTENT_TYPE: content_type, X_CACHE: source,
                   CACHE_STATUS: cache_status.HITS[source], hdrs.SERVER: answer_headers.SERVER,
                   **answer_headers.CONSTANT}
        if answer_headers.is_active(content_type):
            headers[answer_headers.CONTENT_DISPOSITION] = answer_headers.ATTACHMENT
        if degraded:
            headers[X_CACHE_DEGRADED] = REDIS_UNAVAILABLE
        template = _templates[(content_type, source, degraded)] = CIMultiDict(headers)
    return template.copy()


def hit_head(value: bytes, content_type: str, stamp: Stamp | None, source: str) -> Head:
    """The head of a hit's answers (service.http.rendered), made once per
    stored value and source (its PUT's version; a value without times, v1,
    every time: its version is its bytes' digest, not a PUT's)."""
    version = stamp.version if stamp is not None and stamp.stored_at_ms is not None else None
    heads = _heads.setdefault(source, {})
    if version is not None:
        found = heads.get(version)
        if found is not None:
            return found
    headers = hit_headers(content_type, source, False)
    if stamp is not None:
        headers.extend(validators(stamp))
        if stamp.tags:
            headers[X_CACHE_TAGS] = tags_header(stamp.tags)
    headers[hdrs.CONTENT_LENGTH] = str(len(value))
    made = head(tuple(headers.items()), None if stamp is None else stored_at_s(stamp))
    if version is not None:
        if len(heads) >= MAX_HEADS:
            heads.clear()
        heads[version] = made
    return made


def rendered(value: bytes, head: Head, now_s: float, request_id: str,
             degraded: bool) -> RenderedHit:
    """A hit's 200 from its head, at `now_s` (epoch seconds)."""
    stored_at = head.stored_at_s
    return RenderedHit(value, head, None if stored_at is None else age(stored_at, now_s),
                       request_id, degraded)


def renders(request: web.Request, value: bytes) -> bool:
    """Is a hit of `value` answered rendered? Not when the caller may get a
    304, nor for a large value (written with a write timeout, held.py)."""
    return len(value) <= LARGE_ANSWER_BYTES and IF_NONE_MATCH not in request.headers


def memory_answerer(app: web.Application) -> MemoryAnswerer:
    """The front door's answerer for `app` (service.http.front): a
    memory-tier hit's 200, found without awaiting anything; None when the
    GET handler must answer.

    No key or namespace checks: only keys that passed them, in configured
    namespaces, are ever stored, so whatever is found passed them.
    """

    settings = app[appkeys.SETTINGS]
    refresh_ahead = settings.namespace_refresh_ahead
    wall = app[appkeys.CLOCK].wall
    cache = app[appkeys.CACHE]
    link = app[appkeys.LINK]
    redis_enabled, redis_ready = link.enabled, link.is_ready  # degraded(), looked up once

    def answer_from_memory(request: web.Request, namespace: str, key: str,
                           request_id: str) -> web.Response | None:
        if IF_NONE_MATCH in request.headers:
            return None  # the handler may answer 304 (looked at first: a hit counts once)
        raw_path = request.raw_path
        if "?" in raw_path and not (  # the handler answers bad parameters (400)
            raw_path.endswith("?lease=1") and namespace not in refresh_ahead
        ):
            asked = lease_request(request, settings)  # ... and refreshes ahead
            if isinstance(asked, web.Response) or (asked.wanted and namespace in refresh_ahead):
                return None
        # A large value is written with a write timeout (held.py): the
        # handler's, which counts its hit.
        entry = cache.get_memory(namespace, key, LARGE_ANSWER_BYTES)
        if entry is None:
            return None
        found = hit_head(entry.value, entry.content_type, entry.stamp, Source.MEMORY)
        return rendered(entry.value, found, wall(), request_id,
                        redis_enabled and not redis_ready())

    return answer_from_memory
