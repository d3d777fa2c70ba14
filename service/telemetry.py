"""Optional OpenTelemetry tracing, configured by OpenTelemetry's own variables.

    OTEL_SDK_DISABLED=true, or no traces exporter or endpoint named
        (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT,
         OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)            ─► None: nothing imported
    OTEL_TRACES_EXPORTER=none                           ─► None
    opentelemetry-api not installed                     ─► None, and one warning
    a tracer provider set up already
        (the process runs under `opentelemetry-instrument`) ─► a tracer of it
    otherwise, with opentelemetry-sdk installed         ─► the SDK's TracerProvider
        (resource from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES), one
        BatchSpanProcessor per exporter OTEL_TRACES_EXPORTER names (default
        `otlp`), found where the SDK's own auto-configuration finds them (the
        `opentelemetry_traces_exporter` entry points: `console` comes with the
        SDK, `otlp` with opentelemetry-exporter-otlp)

When tracing is off, the request layer and the link are exactly what they
are without this module (no wrapper is installed), so it costs nothing.
The spans themselves: service.http.tracing (one server span per request)
and service.link.traced (one child span per Redis batch).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

log = logging.getLogger("roleready.telemetry")
INSTRUMENTATION_NAME = "roleready-cache"
ENDPOINT_VARIABLES = (
    "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)
EXPORTER_ENTRY_POINTS = "opentelemetry_traces_exporter"


@dataclass(frozen=True)
class Tracing:
    """A tracer for the spans, and the provider this service set up (None
    when another one, e.g. opentelemetry-instrument's, owns it)."""

    tracer: Any
    owned_provider: Any | None = None

    def shutdown(self) -> None:
        """Flush what is still batched (only a provider this service set up)."""
        if self.owned_provider is not None:
            self.owned_provider.shutdown()


def wanted(environ: Mapping[str, str]) -> bool:
    """Do OpenTelemetry's variables ask for traces?"""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def configure(environ: Mapping[str, str]) -> Tracing | None:
    """Tracing as the variables ask for it, or None (see the module's table)."""
    if not wanted(environ):
        return None
    if importlib.util.find_spec("opentelemetry") is None:
        log.warning("OTEL_* variables ask for traces, but opentelemetry is not installed: "
                    "no traces (pip install 'roleready-cache[tracing]')")
        return None
    from opentelemetry import trace

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return Tracing(trace.get_tracer(INSTRUMENTATION_NAME))
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        log.warning("OTEL_* variables ask for traces, but opentelemetry-sdk is not installed "
                    "and no tracer provider is set up: no traces")
        return None
    provider = _sdk_provider(environ)
    if provider is None:
        return None
    return Tracing(provider.get_tracer(INSTRUMENTATION_NAME), provider)


def _sdk_provider(environ: Mapping[str, str]) -> Any | None:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    names = [n.strip() for n in environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")
             if n.strip()]
    known = {point.name: point for point in entry_points(group=EXPORTER_ENTRY_POINTS)}
    missing = [name for name in names if name not in known]
    if missing:
        log.warning("OTEL_TRACES_EXPORTER names exporters that are not installed: %s "
                    "(installed: %s): no traces", ", ".join(missing), ", ".join(sorted(known)))
        return None
    # Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES
    # from the process's environment itself (the SDK's own rule); `environ`
    # only decides whether tracing is on and which exporters run.
    provider = TracerProvider(resource=Resource.create())
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(known[name].load()()))
    log.info("tracing: OpenTelemetry spans to %s", ", ".join(names))
    return provider
