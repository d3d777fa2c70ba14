"""The lock-free request histogram against the library it replaces:
prometheus-client's own Histogram, fed the same observations, must expose
the same text (the `_created` timestamps aside)."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from service.collectors import REQUEST_DURATION_BUCKETS
from service.request_durations import RequestDurations

NAME = "roleready_http_request_duration_seconds"
DOC = "HTTP request duration by route, method and status."
# On a bound, between bounds, below the first, above the last, zero.
OBSERVATIONS = {
    ("/cache/{namespace}/{key}", "GET", 200): [0.0, 0.0001, 0.0005, 0.0007, 0.005, 0.3, 2.5, 7.0],
    ("/cache/{namespace}/{key}", "PUT", 204): [0.001, 0.001, 0.0101],
    ("unmatched", "POST", 404): [0.00049],
}


def _created_blanked(text: bytes) -> str:
    return re.sub(r"^(\S+_created\{.*\}) \S+$", r"\1 T", text.decode(), flags=re.MULTILINE)


def test_exposition_equals_prometheus_clients_histogram() -> None:
    ours_registry = CollectorRegistry(auto_describe=False)
    ours = RequestDurations(NAME, DOC, REQUEST_DURATION_BUCKETS)
    ours_registry.register(ours)
    theirs_registry = CollectorRegistry()
    theirs = Histogram(
        NAME, DOC, ["route", "method", "status"], buckets=REQUEST_DURATION_BUCKETS,
        registry=theirs_registry,
    )
    for (route, method, status), values in OBSERVATIONS.items():
        observer = ours.observer(route, method)
        for seconds in values:
            observer(None, status, seconds)  # type: ignore[arg-type]
            theirs.labels(route, method, str(status)).observe(seconds)
    assert _created_blanked(generate_latest(ours_registry)) == _created_blanked(
        generate_latest(theirs_registry)
    )


def test_a_route_taking_any_method_keys_by_the_requests_method() -> None:
    durations = RequestDurations(NAME, DOC, REQUEST_DURATION_BUCKETS)

    class Request:
        method = "PATCH"

    durations.observer("unmatched", "*")(Request(), 405, 0.002)  # type: ignore[arg-type]
    assert durations.series("unmatched", "PATCH", 405).counts[2] == 1
