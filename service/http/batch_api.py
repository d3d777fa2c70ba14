"""Batches of keys and the purge of a namespace: parse, call, answer.

    POST /cache/{ns}/_mget     {"keys": [...]}
        ─► 200 {"hits": {key: {"value", "encoding", "contentType", "source"}},
                "misses": [key, ...], "unread": [key, ...]}
           (unread: beyond CACHE_BATCH_MAX_ANSWER_BYTES; ask for them again)
    POST /cache/{ns}/_mset     {"entries": {key: {"value", "encoding"?, "contentType"?, "ttl_ms"?}}}
        ─► 200 {"stored": {key: "redis" | "memory"}, "notStored": [key, ...]}
    POST /cache/{ns}/_mdelete  {"keys": [...]}
        ─► 200 {"deleted": {key: "redis" | "memory"}}
    DELETE /cache/{ns}         ─► 202 {purge job}, Location: /cache/{ns}/_purge/{id}
    GET /cache/{ns}/_purge/{id} ─► 200 {purge job} (this instance's jobs)

Every key and value is checked as the single-key routes check them before
anything is read or written: one bad one refuses the whole request (400
naming it; 413 for a value over CACHE_MAX_VALUE_BYTES), and nothing is
written. Bodies are bounded by CACHE_BATCH_MAX_BYTES (413) and keys by
CACHE_BATCH_MAX_KEYS (400), and their shape (strings and values) by what
that many keys need, before they are parsed (batch_shape.py). Values travel as UTF-8 text when they are, else
base64. "_mget" and the like are valid keys, but no key route answers POST.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from service import appkeys
from service.cache import batch
from service.cache.batch import NewValue
from service.cache.two_tier import Write
from service.config import Settings
from service.config.callers import PURGE, READ, WRITE
from service.http.access import needs
from service.http.batch_fragments import Fragments
from service.http.batch_shape import too_complex
from service.http.bodies import BadRequest, read_body
from service.http.entries import (
    DEFAULT_CONTENT_TYPE,
    KEY_CHARACTERS,
    KEY_PATTERN,
    MAX_CONTENT_TYPE_CHARS,
    MAX_KEY_CHARS,
    marked,
)
from service.http.held import BATCH_HOLD, budgeted
from service.http.responses import JSON, error_response, json_response
from service.http.tag_syntax import BadTags, checked

# Keys joined by newlines (see _all_good): their characters, and newlines.
_KEYS = re.compile(f"[{re.escape(KEY_CHARACTERS)}\n]*")
PURGE_JOB = "/cache/{namespace}/_purge/{job}"


def _bad(code: str, message: str, key: str | None = None, status: int = 400) -> BadRequest:
    """The error, with `key` naming the key refused (when there is one)."""
    named = {} if key is None else {"key": key}
    return BadRequest(error_response(status, code, message, **named))


def _namespace(request: web.Request, settings: Settings) -> tuple[str, int]:
    """The namespace (404 unless configured) and its TTL."""
    namespace = request.match_info["namespace"]
    ttl_ms = settings.namespace_ttls_ms.get(namespace)
    if ttl_ms is None:
        raise _bad("unknown_namespace", f"No namespace named {namespace!r}.", status=404)
    return namespace, ttl_ms


async def _parsed(request: web.Request, settings: Settings, field: str) -> tuple[str, int, Any]:
    """The namespace, its TTL and the body's `field` (JSON)."""
    namespace, ttl_ms = _namespace(request, settings)
    raw = await read_body(request, settings.cache_batch_max_bytes, "Batch bodies",
                          request.get(BATCH_HOLD))
    if too_complex(raw, settings.cache_batch_max_keys):
        raise _bad("bad_body", "The body holds more values than a batch of "
                   f"{settings.cache_batch_max_keys} keys needs (CACHE_BATCH_MAX_KEYS).")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad("bad_body", "The body must be a JSON object.") from None
    if not isinstance(body, dict) or field not in body:
        raise _bad("bad_body", f"The body must be a JSON object with {field!r}.")
    items = body[field]
    if isinstance(items, list | dict) and len(items) > settings.cache_batch_max_keys:
        raise _bad("too_many_keys", f"At most {settings.cache_batch_max_keys} keys per batch "
                   "(CACHE_BATCH_MAX_KEYS).")
    return namespace, ttl_ms, items


async def _keyed(request: web.Request) -> tuple[str, list[str]]:
    """The namespace and the checked keys of a `{"keys": [...]}` body, without repeats."""
    namespace, _, items = await _parsed(request, request.app[appkeys.SETTINGS], "keys")
    if not isinstance(items, list):
        raise _bad("bad_body", "'keys' must be a list of strings.")
    if not _all_good(items):
        for key in items:
            _check(key)  # raises, naming the first bad key
    # A set's length tells whether there are repeats: a third of what
    # building the ordered dict costs (a hundred keys: ~5 against ~12 us).
    return namespace, items if len(set(items)) == len(items) else list(dict.fromkeys(items))


def _all_good(keys: list[Any]) -> bool:
    """Every key checked at once, in C: joined by newlines (which no good
    key holds: the count tells a key that does), one pass of a character
    class over the whole, no empty key, none longer than 512 (a question
    only when the whole is). A fifth of the cost of the key pattern
    repeated over the same string (~5 us for 100 keys; that regex's
    bounded repeats are what cost)."""
    try:
        joined = "\n".join(keys)
    except TypeError:  # a key that is not a string
        return False
    return (joined.count("\n") == len(keys) - 1 and _KEYS.fullmatch(joined) is not None
            and "" not in keys
            and (len(joined) <= MAX_KEY_CHARS or max(map(len, keys)) <= MAX_KEY_CHARS))


def _check(key: Any) -> None:
    if not isinstance(key, str) or KEY_PATTERN.fullmatch(key) is None:
        shown = (key if isinstance(key, str) else repr(key))[:600]
        raise _bad("bad_key", f"Bad key {shown!r}: keys are 1-512 characters of "
                   "letters, digits and . _ ~ : -", shown)


def _new_value(key: str, item: Any, namespace_ttl_ms: int, settings: Settings) -> NewValue:
    """One `_mset` entry, checked as a PUT is."""
    if not isinstance(item, dict) or not isinstance(item.get("value"), str):
        raise _bad("bad_value", f"Entry {key!r} must be an object with a string 'value'.", key)
    encoding = item.get("encoding", "utf-8")
    try:
        if encoding == "utf-8":
            value = item["value"].encode()
        elif encoding == "base64":
            value = base64.b64decode(item["value"], validate=True)
        else:
            raise _bad("bad_value", f"Entry {key!r}: encoding is 'utf-8' or 'base64'.", key)
    except (binascii.Error, ValueError):
        raise _bad("bad_value", f"Entry {key!r}: the value is not valid {encoding}.", key) from None
    max_bytes = settings.cache_max_value_bytes
    if len(value) > max_bytes:
        raise _bad("too_large", f"Entry {key!r}: values are limited to {max_bytes} bytes.", key, 413)
    content_type = item.get("contentType", DEFAULT_CONTENT_TYPE)
    if not isinstance(content_type, str) or not (
        0 < len(content_type) <= MAX_CONTENT_TYPE_CHARS
        and content_type.isascii() and content_type.isprintable()
    ):
        raise _bad("bad_content_type", f"Entry {key!r}: contentType must be printable ASCII "
                   f"of at most {MAX_CONTENT_TYPE_CHARS} characters.", key)
    ttl_ms = _whole(item.get("ttl_ms", namespace_ttl_ms))
    if ttl_ms is None or not 1 <= ttl_ms <= namespace_ttl_ms:
        raise _bad("bad_ttl_ms", f"Entry {key!r}: ttl_ms must be a whole number from 1 to "
                   f"{namespace_ttl_ms} (it may shorten the namespace TTL, never extend it).", key)
    try:
        tags = checked(item["tags"], settings) if "tags" in item else []
    except BadTags as bad:
        raise _bad("bad_tags", f"Entry {key!r}: {bad}", key) from None
    return NewValue(key, value, content_type, ttl_ms, tuple(tags))


def _whole(number: Any) -> int | None:
    """A JSON whole number as an int, else None. `698.0` is one: JSON has
    one number type, and JSON Schema's "integer" (the OpenAPI document's)
    admits it, so refusing it refused a request the document allows (found
    by the fuzzer). Booleans are not numbers here, though bool is an int."""
    if type(number) is int:
        return number
    if type(number) is float and number.is_integer():
        return int(number)
    return None


def mget_answering(fragments: Fragments) -> Handler:
    """POST _mget, its answer joined from `fragments` (batch_fragments.py):
    one per app, since the app's routes are declared once."""

    @needs(READ, namespaced=True)
    async def mget(request: web.Request) -> web.Response:
        app = request.app
        try:
            namespace, keys = await _keyed(request)
        except BadRequest as bad:
            return marked(bad.response, app)
        max_bytes = app[appkeys.SETTINGS].cache_batch_max_answer_bytes
        found = await batch.get_many(app[appkeys.CACHE], namespace, keys, max_bytes)
        body = fragments.answer(*found)
        return marked(web.Response(body=body, content_type=JSON), app)

    return mget


@needs(WRITE, namespaced=True)
async def mset(request: web.Request) -> web.Response:
    app = request.app
    settings = app[appkeys.SETTINGS]
    try:
        namespace, ttl_ms, items = await _parsed(request, settings, "entries")
        if not isinstance(items, dict):
            raise _bad("bad_body", "'entries' must be an object of key: entry.")
        entries = []
        for key, item in items.items():
            _check(key)
            entries.append(_new_value(key, item, ttl_ms, settings))
    except BadRequest as bad:
        return marked(bad.response, app)
    landed = await batch.write_many(app[appkeys.CACHE], namespace, entries)
    stored = {key: "redis" if where == Write.STORED else "memory"
              for key, where in landed.items() if where != Write.NOT_STORED}
    not_stored = [key for key, where in landed.items() if where == Write.NOT_STORED]
    return marked(json_response({"stored": stored, "notStored": not_stored}), app)


@needs(WRITE, namespaced=True)
async def mdelete(request: web.Request) -> web.Response:
    app = request.app
    try:
        namespace, keys = await _keyed(request)
    except BadRequest as bad:
        return marked(bad.response, app)
    in_redis = await batch.delete_many(app[appkeys.CACHE], namespace, keys)
    where = "redis" if in_redis and app[appkeys.LINK].enabled else "memory"
    return marked(json_response({"deleted": dict.fromkeys(keys, where)}), app)


@needs(PURGE, namespaced=True)
async def purge(request: web.Request) -> web.Response:
    app = request.app
    try:
        namespace, _ = _namespace(request, app[appkeys.SETTINGS])
    except BadRequest as bad:
        return marked(bad.response, app)
    job = app[appkeys.PURGES].start(namespace)
    response = json_response(job.to_dict(), status=202)
    response.headers["Location"] = PURGE_JOB.format(namespace=namespace, job=job.id)
    return marked(response, app)


@needs(PURGE, namespaced=True)
async def purge_status(request: web.Request) -> web.Response:
    app = request.app
    job = app[appkeys.PURGES].find(request.match_info["job"])
    if job is None or job.namespace != request.match_info["namespace"]:
        return marked(error_response(404, "unknown_purge", "No such purge on this instance."), app)
    return marked(json_response(job.to_dict()), app)


def add_routes(router: web.UrlDispatcher) -> None:
    # Bodies and answers of up to megabytes: within the process's byte budget.
    router.add_post("/cache/{namespace}/_mget", budgeted(mget_answering(Fragments())))
    router.add_post("/cache/{namespace}/_mset", budgeted(mset))
    router.add_post("/cache/{namespace}/_mdelete", budgeted(mdelete))
    router.add_delete("/cache/{namespace}", purge)
    router.add_get(PURGE_JOB, purge_status, allow_head=False)

