"""GET /metrics: Prometheus text exposition of the app's registry."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service import appkeys
from service.link.probe import probe


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[appkeys.METRICS]
    collector = registry.cache_collector
    if collector is not None:
        # A fresh, bounded look at Redis memory for the memory alert.
        collector.last_probe = await probe(
            request.app[appkeys.LINK], request.app[appkeys.SETTINGS].redis_command_timeout_ms / 1000
        )
    body = generate_latest(registry.registry)
    # CONTENT_TYPE_LATEST carries a charset, which content_type= refuses.
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/metrics", metrics)
