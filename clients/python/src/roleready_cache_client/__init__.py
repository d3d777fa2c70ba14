"""roleready-cache's Python client: `Client` (blocking, urllib3) and
`AsyncClient` (asyncio, aiohttp), twins over one protocol (protocol.py)
and one get_or_compute flow (compute.py).

    from roleready_cache_client import Client
    with Client("http://127.0.0.1:8080", "default") as cache:
        cache.put("job:42", '{"state": "done"}', content_type="application/json")
        entry = cache.get("job:42")        # Entry, or None on a miss
        report = cache.get_or_compute("report:7", build_report, ttl_ms=60_000)
"""

from roleready_cache_client.async_client import AsyncClient
from roleready_cache_client.errors import (
    BadRequest,
    CacheError,
    ConnectionFailed,
    Forbidden,
    NotFound,
    NotStored,
    Overloaded,
    RequestTimeout,
    ServerError,
    StaleLease,
    Timeout,
    TooLarge,
    Unauthorized,
    Unavailable,
)
from roleready_cache_client.results import Entry, NewValue, PurgeJob, Stored, StoredMany
from roleready_cache_client.sync_client import Client

__version__ = "0.1.0"
__all__ = [
    "AsyncClient", "BadRequest", "CacheError", "Client", "ConnectionFailed", "Entry",
    "Forbidden", "NewValue", "NotFound", "NotStored", "Overloaded", "PurgeJob",
    "RequestTimeout", "ServerError", "StaleLease", "Stored", "StoredMany", "Timeout",
    "TooLarge", "Unauthorized", "Unavailable",
]
