"""Tags on the HTTP API (service/cache/tags.py has the design):

    PUT /cache/{ns}/{key} + X-Cache-Tags: candidate:42, job:7  ─► stored with them
    _mset entry {"value": ..., "tags": [...]}                 ─► the same per entry
    a hit of a tagged value                                   ─► X-Cache-Tags: the same list
    POST /cache/{ns}/_invalidate {"tags": [...]}  ─► 200 {"tags", "invalidatedAt",
        "invalidatedAtUs", "appliedIn": "redis" | "memory"}

Tags are checked by service/http/tag_syntax.py (a bad one: 400 `bad_tags`,
nothing changed). `invalidatedAt` is the Redis clock's (the tag records'
new value), or this instance's while Redis is unreachable (`appliedIn`:
"memory": held in the outbox, applied at reconnect, honoured here at once).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from aiohttp import web

from service import appkeys
from service.cache import tags as tag_ops
from service.config.callers import WRITE
from service.http.access import needs
from service.http.bodies import BadRequest, read_body
from service.http.entries import marked
from service.http.responses import error_response, json_response
from service.http.tag_syntax import BadTags, checked


@needs(WRITE, namespaced=True)
async def invalidate(request: web.Request) -> web.Response:
    app = request.app
    settings = app[appkeys.SETTINGS]
    namespace = request.match_info["namespace"]
    try:
        if namespace not in settings.namespace_ttls_ms:
            raise BadRequest(
                error_response(404, "unknown_namespace", f"No namespace named {namespace!r}.")
            )
        raw = await read_body(request, settings.cache_batch_max_bytes, "Invalidation bodies")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadTags('The body must be a JSON object {"tags": [...]}.') from None
        if not isinstance(body, dict) or not body.get("tags"):
            raise BadTags('The body must be a JSON object {"tags": [...]}, at least one tag.')
        tags = checked(body["tags"], settings)
    except BadTags as bad:
        return marked(error_response(400, "bad_tags", str(bad)), app)
    except BadRequest as bad:
        return marked(bad.response, app)
    done = await tag_ops.invalidate(app[appkeys.CACHE], namespace, tags)
    at = datetime.fromtimestamp(done.at_us / 1_000_000, UTC).isoformat(timespec="milliseconds")
    return marked(json_response({
        "tags": tags, "invalidatedAt": at.replace("+00:00", "Z"), "invalidatedAtUs": done.at_us,
        "appliedIn": "redis" if done.in_redis and app[appkeys.LINK].enabled else "memory",
    }), app)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/cache/{namespace}/_invalidate", invalidate)
