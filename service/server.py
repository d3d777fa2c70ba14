"""Run the application until SIGTERM/SIGINT, then drain and shut down.

SIGHUP re-reads CACHE_API_TOKEN_FILE and CACHE_API_TOKENS_FILE when either is
set (otherwise SIGHUP keeps its default action: it ends the process). This is the one-process path
(WORKERS=1); service/workers/ runs several with the same runner and drain.

On a signal, readiness turns 503 first, so load balancers stop sending new
traffic during SHUTDOWN_DRAIN_MS; then the listener closes, in-flight
requests get up to SHUTDOWN_TIMEOUT_MS to finish, and the cleanup contexts
close Redis.

Slow clients: aiohttp has no timeout for request headers, but its keep-alive
timer (HTTP_KEEPALIVE_TIMEOUT_MS) starts when a connection opens and again
after each answer, and bytes arriving do not restart it; when it fires on a
connection that has not delivered a complete request, the connection is
closed. So a connection that never finishes its headers is closed that long
after it opened (or after its previous answer); a body that does not arrive
within HTTP_BODY_TIMEOUT_MS is answered 408 by the cache API, and the
connection closed at most HTTP_BODY_TIMEOUT_MS later (aiohttp's lingering
read of the rest). aiohttp's default keep-alive for a bare AppRunner is 3630 s.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal

from aiohttp import web

from service import appkeys, telemetry
from service.app import create_app
from service.config import Settings
from service.eventloop import loop_name
from service.http.access import Guard
from service.http.early_errors import ProblemServer
from service.http.front import front_door

log = logging.getLogger("roleready.server")


async def serve(settings: Settings) -> None:
    app = create_app(settings, tracing=telemetry.configure(os.environ))
    runner = make_runner(app, settings)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    guard = app[appkeys.GUARD]
    if guard.reloads:
        loop.add_signal_handler(signal.SIGHUP, reload_tokens, guard)
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        freeze_start_up_objects()
        log.info(
            "serving on http://%s:%d (redis: %s; event loop: %s)",
            settings.host,
            settings.port,
            settings.redis_url_redacted or "disabled, memory only",
            loop_name(loop),
        )
        await stop.wait()
        await drain(app, settings)
    finally:
        await runner.cleanup()
        log.info("stopped")


class ServiceRunner(web.AppRunner):
    """aiohttp's AppRunner serving through a ProblemServer (aiohttp's own
    early errors answered like every other, service.http.early_errors), with
    the front door (service.http.front) before the app's handler: in both
    process paths and in the tests' app client."""

    __slots__ = ()

    async def _make_server(self) -> web.Server:
        # aiohttp's own (the app started, its handler and request factory,
        # the runner's options), remade before it has any connection.
        made = await super()._make_server()
        return ProblemServer(front_door(self.app, made.request_handler),
                             request_factory=made.request_factory,
                             handler_cancellation=made.handler_cancellation, **made._kwargs)


def make_runner(app: web.Application, settings: Settings) -> web.AppRunner:
    """The runner with this service's timeouts (shared with the workers)."""
    return ServiceRunner(
        app, shutdown_timeout=settings.shutdown_timeout_ms / 1000, access_log=None,
        keepalive_timeout=settings.http_keepalive_timeout_ms / 1000,
        # After an early answer (408, 413) aiohttp keeps reading what the
        # client still sends, so that it can read the answer rather than be
        # reset: for as long as a body may take, not aiohttp's fixed 10 s.
        lingering_time=settings.http_body_timeout_ms / 1000,
    )


async def drain(app: web.Application, settings: Settings) -> None:
    """Readiness 503 for SHUTDOWN_DRAIN_MS while the listener still serves."""
    app[appkeys.READINESS].start_draining()
    log.info("draining for %d ms before shutdown", settings.shutdown_drain_ms)
    await asyncio.sleep(settings.shutdown_drain_ms / 1000)


def reload_tokens(guard: Guard) -> None:
    log.info("SIGHUP: re-reading %s", " and ".join(guard.reloads))
    guard.reload()


def freeze_start_up_objects() -> None:
    """Keep what start-up built (modules, the app, ~50k objects) out of GC passes.

    They live as long as the process, yet every full collection traversed
    them again: under load that was about one ~24 ms pause a second, each
    stalling every request in flight. Garbage from start-up is collected
    first, so nothing collectable is frozen.
    """
    gc.collect()
    gc.freeze()
