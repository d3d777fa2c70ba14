"""The OpenAPI document against the app's routes, docs/api.md and itself (no server)."""

from __future__ import annotations

import orjson
import pytest
import schemathesis

from service import appkeys
from service.app import create_app
from service.http.api_description import DOCUMENT, operations
from service.http.api_description.document import OBSERVING
from service.http.api_description.table import (
    MARKDOWN,
    REGENERATE,
    TABLE_BEGIN,
    TABLE_END,
    markdown_table,
)
from service.http.request_layer import FALLBACK_PATH
from tests.conftest import make_settings
from tests.support.markdown import ROOT, between


def _served(**env: str) -> dict:  # type: ignore[type-arg]
    app = create_app(make_settings(**env))
    return orjson.loads(app[appkeys.API_DOCUMENT])


@pytest.mark.parametrize("env", [{}, {"CACHE_API_TOKEN": "s3cret"}])
def test_the_routes_served_and_the_operations_described_are_the_same_set(
    env: dict[str, str],
) -> None:
    app = create_app(make_settings(**env))
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None
    }
    # The per-request layer's 404/405 answers for what no route matches.
    served.remove(("*", FALLBACK_PATH.split(":", 1)[0] + "}"))
    described = {(method, path) for method, path, _ in operations(_served(**env))}
    assert served == described


def test_the_docs_hold_the_generated_endpoint_table() -> None:
    text = (ROOT / MARKDOWN).read_text(encoding="utf-8")
    assert between(text, TABLE_BEGIN, TABLE_END) == markdown_table(), f"regenerate it: {REGENERATE}"


def test_the_document_is_fitted_to_the_instance() -> None:
    open_one = _served(CACHE_REPORT_TTL_MS="1000", CACHE_LEASE_WAIT_MS="100",
                       CACHE_LEASE_WAIT_MAX_MS="700")
    namespace = open_one["components"]["parameters"]["namespace"]["schema"]
    assert "report" in namespace["enum"] and "default" in namespace["enum"]
    guarded = _served(CACHE_API_TOKEN="s3cret")
    for document, token in ((open_one, False), (guarded, True)):
        for _, path, operation in operations(document):
            protected = path.startswith("/cache/") or path in OBSERVING
            assert ("security" in operation) == (protected and token)
            assert ("401" in operation["responses"]) == (protected and token)
            assert ("403" in operation["responses"]) == (protected and token)
    for path in ("/health", "/health/ready"):  # the load balancers' probes stay open
        assert "security" not in guarded["paths"][path]["get"]
    (wait_ms,) = (p for p in open_one["paths"]["/cache/{namespace}/{key}"]["get"]["parameters"]
                  if p.get("name") == "wait_ms")
    assert wait_ms["schema"]["maximum"] == 700
    assert b"s3cret" not in orjson.dumps(guarded)


def test_every_answer_names_its_request_id_and_every_error_its_codes() -> None:
    for method, path, operation in operations(DOCUMENT):
        for status, answer in operation["responses"].items():
            assert "X-Request-ID" in answer["headers"], (method, path, status)
            # (readiness's 503 is its own {"status": "draining"}, not an error)
            if int(status) >= 400 and method != "HEAD" and path != "/health/ready":
                (media,) = answer["content"].values()
                assert media["schema"]["properties"]["error"]["enum"], (method, path, status)
                assert media["example"]["error"] in media["schema"]["properties"]["error"]["enum"]


def test_schemathesis_loads_every_operation() -> None:
    schema = schemathesis.openapi.from_dict(_served(CACHE_API_TOKEN="s3cret"))
    loaded = {(op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()}
    assert loaded == {(method, path) for method, path, _ in operations(DOCUMENT)}


def test_the_tag_limits_are_the_instances() -> None:
    document = _served(CACHE_TAGS_MAX="3", CACHE_TAG_MAX_CHARS="20")
    invalidate = document["paths"]["/cache/{namespace}/_invalidate"]["post"]
    tags = invalidate["requestBody"]["content"]["application/json"]["schema"]["properties"]["tags"]
    assert tags["maxItems"] == 3 and tags["items"]["pattern"] == "^[A-Za-z0-9._~:-]{1,20}$"
    mset = document["paths"]["/cache/{namespace}/_mset"]["post"]["requestBody"]
    entry = mset["content"]["application/json"]["schema"]["properties"]["entries"]
    assert entry["additionalProperties"]["properties"]["tags"]["maxItems"] == 3
    header = document["components"]["parameters"]["tags"]
    assert header["name"] == "X-Cache-Tags" and header["schema"]["pattern"].endswith("{0,2}$")
