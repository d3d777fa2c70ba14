"""The Python clients follow the OpenAPI document: every operation is wrapped
by a method of both twins or named, with the reason, as deliberately not
wrapped; and neither list names an operation the document no longer has.
(The Node client's test holds its own list to the served document.)"""

from __future__ import annotations

import inspect

from roleready_cache_client import AsyncClient, Client
from roleready_cache_client.operations import NOT_WRAPPED, OPERATIONS

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
