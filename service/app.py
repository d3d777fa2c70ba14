"""The composition root: `create_app(settings)` builds the aiohttp application.

Every shared resource is created in its own `cleanup_ctx` context, stored
under a typed key from `service.appkeys`, and closed when the app shuts down,
in reverse order of creation. The HTTP modules declare their routes on a
router of their own; `mount_routes` adds them to the app with the
per-request layer (timing, JSON errors, token) around each handler. With
tracing on (`tracing`, from service.telemetry), requests and Redis batches
are spans; off, nothing of it is installed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from service import appkeys
from service.byte_budget import ByteBudget
from service.cache.durable_outbox import DurableOutbox, open_outbox
from service.cache.leases import Leases
from service.cache.memory import MemoryTier
from service.cache.outbox_timer import OutboxTimer
from service.cache.purge import Purges
from service.cache.redis_tier import RedisTier
from service.cache.stats import CacheStats, LeaseStats
from service.cache.two_tier import TwoTierCache
from service.cache.unconfirmed import Unconfirmed
from service.clock import SystemClock
from service.collectors import Metrics
from service.config import Settings
from service.http import batch_api, cache_api, health, metrics_endpoint, openapi, tags_api
from service.http.access import CallerCounts, guard
from service.http.instance.exposition import worker_exposition
from service.http.instance.peers import Peers, serve_peers
from service.http.request_layer import mount_routes
from service.link.assembly import build_link
from service.link.confirmer import Confirmer
from service.link.probe import SharedProbe
from service.link.traced import TracedLink
from service.readiness import Readiness
from service.telemetry import Tracing
from statemachine.clock import Clock


def create_app(
    settings: Settings, *, clock: Clock | None = None, tracing: Tracing | None = None,
    peers: Peers | None = None,
) -> web.Application:
    """The app; `peers` (a gunicorn worker's slot and siblings) makes /metrics
    and /health/detailed describe the whole instance."""
    registry = Metrics()
    app = web.Application()
    app[appkeys.SETTINGS] = settings
    app[appkeys.CLOCK] = clock = clock or SystemClock()
    app[appkeys.READINESS] = Readiness()
    app[appkeys.METRICS] = registry
    app[appkeys.BYTE_BUDGET] = budget = ByteBudget(settings.cache_inflight_max_bytes)
    registry.watch_budget(budget)
    if tracing is not None:
        app[appkeys.TRACING] = tracing
        app.cleanup_ctx.append(tracing_context)  # closed last: flushes every span
    app.cleanup_ctx.append(redis_link_context)
    app.cleanup_ctx.append(cache_context)
    app.cleanup_ctx.append(confirmer_context)
    if peers is not None:
        app[appkeys.PEERS] = peers
        app.cleanup_ctx.append(peers_context)
    # The modules declare their routes on a router of their own; mount_routes
    # copies them onto the app with the per-request layer around each handler.
    declared = web.UrlDispatcher()
    health.add_routes(declared)
    cache_api.add_routes(declared)
    batch_api.add_routes(declared)
    tags_api.add_routes(declared)
    metrics_endpoint.add_routes(declared)
    openapi.add_routes(declared)
    app[appkeys.GUARD] = callers = guard(settings, clock.monotonic)  # SIGHUP re-reads its files
    registry.registry.register(CallerCounts(callers))
    app[appkeys.API_DOCUMENT] = openapi.encoded_document(settings, not callers.open)
    mount_routes(
        app, declared, registry, callers,
        max_inflight=settings.http_max_inflight, access_log=settings.access_log,
        tracer=tracing.tracer if tracing is not None else None,
    )
    return app


async def redis_link_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    clock = app[appkeys.CLOCK]
    link = build_link(settings, clock)
    tracing = app.get(appkeys.TRACING)
    if tracing is not None:
        link = TracedLink(link, tracing.tracer)
    app[appkeys.LINK] = link
    peers = app.get(appkeys.PEERS)
    app[appkeys.PROBE] = SharedProbe(
        link, settings.redis_command_timeout_ms / 1000, settings.redis_probe_share_ms / 1000,
        peers.directory / "probe.json" if peers is not None else None)
    await link.start()
    yield
    await link.close()


async def tracing_context(app: web.Application) -> AsyncIterator[None]:
    yield
    app[appkeys.TRACING].shutdown()


async def cache_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    link = app[appkeys.LINK]
    stats = CacheStats()
    wall = app[appkeys.CLOCK].wall
    memory = MemoryTier(
        settings.cache_lru_max_items,
        settings.cache_lru_max_bytes,
        settings.cache_lru_ttl_ms / 1000,
        app[appkeys.CLOCK].monotonic,
    )
    redis = (
        RedisTier(
            link, settings.cache_key_prefix, settings.redis_max_retries_per_request, stats, wall,
            settings.namespace_stale_ms,
        )
        if link.enabled
        else None
    )
    outbox = await open_outbox(
        settings.cache_state_dir if redis is not None else None, settings.cache_outbox_max_keys,
        memory, settings.cache_outage_replay, wall,
    )
    cache = TwoTierCache(
        memory, redis, settings.namespace_ttls_ms, stats, outbox, settings.cache_outage_replay,
        wall=wall,
        unconfirmed=_unconfirmed(settings, app[appkeys.CLOCK], redis, link.mode),
    )
    app[appkeys.CACHE] = cache
    leases = Leases(cache, link, settings.cache_lease_duration_ms, app[appkeys.CLOCK], LeaseStats(),
                    max_waiters=settings.cache_lease_max_waiters,
                    max_waiters_per_key=settings.cache_lease_max_waiters_per_key)
    # Waiters step out of the /cache/ pool of requests in progress while they wait.
    leases.pool = app.get(appkeys.CACHE_POOL)
    app[appkeys.LEASES] = leases
    app[appkeys.PURGES] = purges = Purges(cache, link, settings.redis_max_retries_per_request, wall)
    app[appkeys.METRICS].watch(cache, link, leases.stats)
    # The cache hears invalidations and reconnects from the link.
    link.listener = cache
    timer = OutboxTimer(cache, link, settings.backoff_policy, app[appkeys.CLOCK],
                        settings.cache_outage_replay)
    if redis is not None:
        timer.start()
    yield
    await purges.close()  # a purge cut short is owed too
    if cache.unconfirmed is not None and cache.outbox is not None:
        # What no replica confirmed by the confirmer's last round (it closed
        # first) would be lost to a failover after this process is gone: it is
        # owed like an outage write, applied now or kept in CACHE_STATE_DIR.
        cache.unconfirmed.adopt(cache.outbox)
    await timer.close(settings.shutdown_timeout_ms / 1000)
    link.listener = None
    if isinstance(outbox, DurableOutbox):
        await outbox.close()
    memory.clear()


def _unconfirmed(
    settings: Settings, clock: Clock, redis: RedisTier | None, mode: str
) -> Unconfirmed | None:
    """The held writes (REDIS_REPLICA_CONFIRM=auto with Redis), else None.
    A single REDIS_URL holds nothing until its master reports a replica."""
    if redis is None or settings.redis_replica_confirm == "off":
        return None
    return Unconfirmed(settings.cache_outbox_max_keys, clock.monotonic, redis.key_of,
                       required=mode != "single")


async def confirmer_context(app: web.Application) -> AsyncIterator[None]:
    """Learns which held writes a replica has (service.link.confirmer)."""
    held = app[appkeys.CACHE].unconfirmed
    if held is None:
        yield
        return
    settings = app[appkeys.SETTINGS]
    confirmer = Confirmer(
        app[appkeys.LINK], held, prefix=settings.cache_key_prefix,
        command_timeout_s=settings.redis_command_timeout_ms / 1000,
    )
    await confirmer.start()
    yield
    await confirmer.close()


async def peers_context(app: web.Application) -> AsyncIterator[None]:
    """This worker's socket, where its siblings ask for its figures."""
    metrics = app[appkeys.METRICS]

    async def answer(kind: str) -> bytes:
        if kind == "metrics":
            return worker_exposition(metrics)
        if kind == "health":
            return await health.worker_health(app)
        return b""

    server = await serve_peers(app[appkeys.PEERS], answer)
    yield
    server.close()
    await server.wait_closed()
