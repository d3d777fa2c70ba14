"""The Python clients follow the OpenAPI document: every operation is wrapped
by a method of both twins or named, with the reason, as deliberately not
wrapped; neither list names an operation the document no longer has; and
each call goes to its operation's method and path.
(The Node client's test holds its own list to the served document.)"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from roleready_cache_client import AsyncClient, Client
from roleready_cache_client.operations import NOT_WRAPPED, OPERATIONS
from roleready_cache_client.protocol import Call, Protocol

from service.http.api_description.document import DOCUMENT, operations


def test_every_operation_is_wrapped_or_deliberately_not() -> None:
    ids = {operation["operationId"] for _, _, operation in operations(DOCUMENT)}
    missing = ids - OPERATIONS.keys() - NOT_WRAPPED.keys()
    assert not missing, f"operations no Python client method wraps: {sorted(missing)}"
    assert not (OPERATIONS.keys() | NOT_WRAPPED.keys()) - ids, "names the document lacks"
    assert not OPERATIONS.keys() & NOT_WRAPPED.keys()


def test_both_twins_have_each_method() -> None:
    for method in OPERATIONS.values():
        assert inspect.iscoroutinefunction(getattr(AsyncClient, method)), method
        assert callable(getattr(Client, method)), method
        assert not inspect.iscoroutinefunction(getattr(Client, method)), method
        twins = (inspect.signature(getattr(twin, method)).parameters for twin in (Client, AsyncClient))
        assert list(next(twins)) == list(next(twins)), f"{method}: the twins' parameters differ"


# One call per wrapped operation, as the protocol builds it for both twins.
SAMPLES: dict[str, Callable[[Protocol], Call[Any]]] = {
    "getEntry": lambda p: p.get("k"),
    "putEntry": lambda p: p.put("k", "v"),
    "deleteEntry": lambda p: p.delete("k"),
    "releaseLease": lambda p: p.release_lease("k", "rTok"),
    "getMany": lambda p: p.mget(["k"]),
    "putMany": lambda p: p.mset({"k": "v"}),
    "deleteMany": lambda p: p.mdelete(["k"]),
    "invalidateTags": lambda p: p.invalidate(["t"]),
    "purgeNamespace": lambda p: p.purge(),
    "purgeStatus": lambda p: p.purge_status("j"),
    "detailedHealth": lambda p: p.health(),
    "status": lambda p: p.status(),
}


def test_each_call_goes_where_the_document_says() -> None:
    assert SAMPLES.keys() == OPERATIONS.keys()
    protocol = Protocol("default")
    for method, path, operation in operations(DOCUMENT):
        sample = SAMPLES.get(operation["operationId"])
        if sample is None:
            continue
        call = sample(protocol)
        expected = path.format(namespace="default", key="k", job="j")
        assert (call.method, call.path.partition("?")[0]) == (method, expected), operation["operationId"]
