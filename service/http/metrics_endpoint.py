"""GET /metrics: Prometheus text exposition of the app's registry (with
workers, of the whole instance: service.http.instance.exposition)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service import appkeys
from service.config.callers import OBSERVE
from service.http.access import needs
from service.http.instance.exposition import instance_exposition


@needs(OBSERVE)
async def metrics(request: web.Request) -> web.Response:
    app = request.app
    registry = app[appkeys.METRICS]
    collector = registry.cache_collector
    # A bounded look at Redis memory for the memory alert, at most a second old.
    result = await app[appkeys.PROBE].result()
    peers = app.get(appkeys.PEERS)
    if peers is not None:  # with workers: the whole instance's figures
        body = await instance_exposition(registry, peers, result)
    else:
        if collector is not None:
            collector.last_probe = result
        body = generate_latest(registry.registry)
    # CONTENT_TYPE_LATEST carries a charset, which content_type= refuses.
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/metrics", metrics)
