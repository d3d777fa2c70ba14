"""One OpenTelemetry server span per request, when tracing is on (service.telemetry).

    request ─► the caller's trace context (W3C traceparent) ─► span
               "<METHOD> <route>" (kind SERVER), current while the route's
               wrapped handler runs, so Redis batch spans are its children
            ─► the answer: http.response.status_code, and the cache outcome
               (X-Cache: hit-memory, hit-redis, hit-fill, miss) as
               roleready.cache.outcome, and the caller's name (never its
               token) as roleready.caller; a 5xx marks the span as an error

It wraps the whole per-route wrapper (service.http.request_layer), fast path
included, and is installed only when tracing is on: off, nothing here runs.
Attribute names follow OpenTelemetry's HTTP semantic conventions.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode

from service.config.callers import ANONYMOUS
from service.http.access import CALLER_KEY

X_CACHE = "X-Cache"


def traced(handler: Handler, tracer: Any, route: str, method: str) -> Handler:
    """`handler` inside a server span named for its route."""
    name = f"{method} {route}" if method != "*" else "unmatched"

    async def answer(request: web.Request) -> web.StreamResponse:
        attributes = {
            "http.request.method": request.method,
            "http.route": route,
            "url.path": request.path,
        }
        with tracer.start_as_current_span(
            name, context=propagate.extract(request.headers), kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            response = await handler(request)
            span.set_attribute("http.response.status_code", response.status)
            outcome = response.headers.get(X_CACHE)
            if outcome is not None:
                span.set_attribute("roleready.cache.outcome", outcome)
            caller = request.get(CALLER_KEY)
            span.set_attribute("roleready.caller", caller.name if caller else ANONYMOUS)
            if response.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    return answer
