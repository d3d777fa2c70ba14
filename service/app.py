"""The composition root: `create_app(settings)` builds the aiohttp application.

Every shared resource is created in its own `cleanup_ctx` context, stored
under a typed key from `service.keys`, and closed when the app shuts down,
in reverse order of creation.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from service import keys
from service.clock import SystemClock
from service.config import Settings
from service.http import health
from service.link.driver import RedisLink
from service.link.factory import url_factory
from service.readiness import Readiness
from statemachine.clock import Clock
from statemachine.eventlog import LinkEventLogger
from statemachine.journal import Journal
from statemachine.lifecycle import ConnectionLifecycle
from statemachine.throttle import ErrorLogThrottle


def create_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    app = web.Application()
    app[keys.SETTINGS] = settings
    app[keys.CLOCK] = clock or SystemClock()
    app[keys.READINESS] = Readiness()
    app.cleanup_ctx.append(redis_link_context)
    health.add_routes(app)
    return app


async def redis_link_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    clock = app[keys.CLOCK]
    journal = Journal(settings.journal_capacity)
    journal.subscribe(
        LinkEventLogger(logging.getLogger("roleready.redis"), ErrorLogThrottle(every=10))
    )
    lifecycle = ConnectionLifecycle(clock, settings.backoff_policy, journal)
    link = RedisLink(
        lifecycle,
        url_factory(settings) if settings.redis_enabled else None,
        clock=clock,
        lazy=settings.redis_lazy_connect,
        health_check_interval_s=settings.redis_health_check_interval_ms / 1000,
        command_timeout_s=settings.redis_command_timeout_ms / 1000,
        connect_timeout_s=settings.redis_connect_timeout_ms / 1000,
    )
    app[keys.LINK] = link
    await link.start()
    yield
    await link.close()
