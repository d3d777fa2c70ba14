"""What the single-key routes (cache_api.py) and the batch routes
(batch_api.py) share about an entry and an answer: the key's pattern, the
content type's default and bound, and the X-Cache-Degraded mark."""

from __future__ import annotations

import re
import string

from aiohttp import web
from multidict import istr

from service import appkeys
from service.cache import codec

# RFC 3986 unreserved characters plus ':' (keys often carry ids like "job:42").
KEY_CHARACTERS = string.ascii_letters + string.digits + "._~:-"
MAX_KEY_CHARS = 512
KEY_PATTERN = re.compile(f"[{re.escape(KEY_CHARACTERS)}]{{1,{MAX_KEY_CHARS}}}")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# As many as the stored format's one-byte length holds (ASCII only, so
# characters are bytes).
MAX_CONTENT_TYPE_CHARS = codec.MAX_CONTENT_TYPE_BYTES
# On every cache answer given while the Redis link is not ready (memory-only
# mode by configuration is not degraded), and where a PUT or DELETE landed.
X_CACHE_DEGRADED = istr("X-Cache-Degraded")
REDIS_UNAVAILABLE = "redis-unavailable"


def degraded(app: web.Application) -> bool:
    """Answers are degraded while an enabled Redis link is not ready."""
    link = app[appkeys.LINK]
    return link.enabled and not link.is_ready()


def marked(response: web.Response, app: web.Application) -> web.Response:
    """`response` with X-Cache-Degraded when answers are degraded."""
    if degraded(app):
        response.headers[X_CACHE_DEGRADED] = REDIS_UNAVAILABLE
    return response
