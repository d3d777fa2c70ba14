"""Optional OpenTelemetry tracing: server spans per request, a child span per
Redis batch, the caller's traceparent honoured; configured by OpenTelemetry's
own variables in the real process; nothing imported when it is off."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from aiohttp.test_utils import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from scripts.harness.redis_server import RedisServer
from scripts.harness.service_process import ServiceProcess, http_get
from service import telemetry
from service.app import create_app
from service.telemetry import Tracing
from tests.conftest import make_settings
from tests.support.app_server import ServiceTestServer
from tests.support.waiting import link_state

ROUTE = "GET /cache/{namespace}/{key}"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    yield spans
    spans.shutdown()


@pytest.fixture
async def traced_client(aiohttp_client, exporter: InMemorySpanExporter,  # type: ignore[no-untyped-def]
                        redis_server: RedisServer) -> TestClient:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider.get_tracer("test"), provider)
    settings = make_settings(redis_server.url, REDIS_LAZY_CONNECT="false")
    client: TestClient = await aiohttp_client(ServiceTestServer(create_app(settings, tracing=tracing)))
    await link_state(client.app, "ready")
    exporter.clear()  # the eager connect's spans are not the test's
    return client


def _named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


async def test_a_redis_miss_is_a_server_span_with_a_redis_batch_child(
    traced_client: TestClient, exporter: InMemorySpanExporter,
) -> None:
    answer = await traced_client.get("/cache/default/absent", headers={"traceparent": TRACEPARENT})
    assert answer.status == 404
    spans = exporter.get_finished_spans()
    (server,) = _named(spans, ROUTE)
    assert server.kind == SpanKind.SERVER
    assert server.attributes is not None and server.context is not None
    assert server.attributes["http.response.status_code"] == 404
    assert server.attributes["roleready.cache.outcome"] == "miss"
    assert server.attributes["http.route"] == "/cache/{namespace}/{key}"
    assert format(server.context.trace_id, "032x") == TRACE_ID  # the caller's trace
    batches = _named(spans, "redis batch")
    assert batches, "the Redis read has no span"
    for batch in batches:
        assert batch.parent is not None and batch.parent.span_id == server.context.span_id
        assert batch.kind == SpanKind.CLIENT and batch.attributes is not None
        assert batch.attributes["db.system.name"] == "redis"
        assert batch.attributes["roleready.redis.answered"] is True
    assert any("GET" in str(b.attributes["db.operation.name"]) for b in batches if b.attributes)


async def test_a_memory_hit_is_a_span_without_redis(
    traced_client: TestClient, exporter: InMemorySpanExporter,
) -> None:
    assert (await traced_client.put("/cache/default/k", data=b"v")).status == 204
    exporter.clear()
    assert (await traced_client.get("/cache/default/k")).status == 200
    spans = exporter.get_finished_spans()
    (server,) = _named(spans, ROUTE)
    assert server.attributes is not None
    assert server.attributes["roleready.cache.outcome"] == "hit-memory"
    assert server.attributes["http.response.status_code"] == 200
    assert _named(spans, "redis batch") == []


async def test_unmatched_paths_are_spans_too(
    traced_client: TestClient, exporter: InMemorySpanExporter,
) -> None:
    assert (await traced_client.get("/nowhere")).status == 404
    (span,) = exporter.get_finished_spans()
    assert span.name == "unmatched" and span.attributes is not None
    assert span.attributes["http.response.status_code"] == 404


@pytest.mark.parametrize("environ", [
    {},
    {"OTEL_SERVICE_NAME": "x"},  # a name alone asks for no traces
    {"OTEL_TRACES_EXPORTER": "none"},
    {"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"},
])
def test_tracing_is_off_unless_an_exporter_or_endpoint_is_named(environ: dict[str, str]) -> None:
    assert telemetry.configure(environ) is None


def test_an_exporter_that_is_not_installed_turns_tracing_off_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert telemetry.configure({"OTEL_TRACES_EXPORTER": "no-such-exporter"}) is None
    assert "no-such-exporter" in caplog.text and "not installed" in caplog.text


# Without opentelemetry installed (simulated by refusing its import), the app
# builds and neither it nor the span code (which needs it) is loaded. (redis-py itself imports
# opentelemetry when it is installed, for its own optional metrics.)
NOT_INSTALLED = """
import os, sys
sys.modules["opentelemetry"] = None  # imports fail, find_spec finds nothing
from service import telemetry
from service.app import create_app
from service.config import Settings
create_app(Settings.from_env({"REDIS_URL": "redis://127.0.0.1:1"}),
           tracing=telemetry.configure(os.environ))
print(sorted(m for m, module in sys.modules.items()
             if m.startswith(("opentelemetry", "service.http.tracing")) and module is not None))
"""


@pytest.mark.parametrize("otel", [{}, {"OTEL_TRACES_EXPORTER": "console"}])
def test_without_opentelemetry_the_service_runs_and_loads_no_tracing_code(
    otel: dict[str, str],
) -> None:
    env = {"PATH": "/usr/bin:/bin", **otel}
    done = subprocess.run([sys.executable, "-c", NOT_INSTALLED], capture_output=True,
                          text=True, env=env, check=True)
    assert done.stdout.strip() == "[]"
    # Asked for traces without the package: one warning says why there are none.
    assert ("opentelemetry is not installed" in done.stderr) == bool(otel)


def test_the_service_process_exports_spans_named_by_the_standard_variables(
    service_process: Callable[..., ServiceProcess],
) -> None:
    service = service_process(
        REDIS_URL="", OTEL_TRACES_EXPORTER="console", OTEL_SERVICE_NAME="cache-under-test",
    )
    assert http_get(service.base_url + "/cache/default/k")[0] == 404
    assert service.terminate() == 0  # the provider flushes its batch at shutdown
    spans = _console_spans(service.log())
    (span,) = [s for s in spans if s["name"] == ROUTE]
    assert span["kind"] == "SpanKind.SERVER"
    assert span["attributes"]["roleready.cache.outcome"] == "miss"
    assert span["resource"]["attributes"]["service.name"] == "cache-under-test"


def _console_spans(log: str) -> list[dict[str, object]]:
    """The ConsoleSpanExporter's spans: pretty-printed JSON objects, one after another."""
    decoder = json.JSONDecoder()
    spans, index = [], log.find("{")
    while index >= 0:
        try:
            value, end = decoder.raw_decode(log, index)
        except ValueError:
            index = log.find("{", index + 1)
            continue
        if isinstance(value, dict) and "context" in value and "name" in value:
            spans.append(value)
        index = log.find("{", end)
    return spans




async def test_the_caller_is_on_the_span_and_the_token_is_not(
    aiohttp_client, exporter: InMemorySpanExporter,  # type: ignore[no-untyped-def]
) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing = Tracing(provider.get_tracer("test"), provider)
    app = create_app(make_settings("", CACHE_API_TOKEN="tok-span-never-seen"), tracing=tracing)
    client: TestClient = await aiohttp_client(app)
    auth = {"Authorization": "Bearer tok-span-never-seen"}
    assert (await client.put("/cache/default/k", data=b"v", headers=auth)).status == 204
    exporter.clear()
    assert (await client.get("/cache/default/k", headers=auth)).status == 200  # the fast path
    assert (await client.get("/cache/default/k")).status == 401
    hit, refused = _named(exporter.get_finished_spans(), ROUTE)
    assert hit.attributes is not None and refused.attributes is not None
    assert hit.attributes["roleready.caller"] == "api-token"
    assert refused.attributes["roleready.caller"] == "anonymous"
    assert "tok-span" not in str([dict(s.attributes or {}) for s in (hit, refused)])
