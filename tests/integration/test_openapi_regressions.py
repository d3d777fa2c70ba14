"""What the OpenAPI fuzzer (test_openapi_fuzz.py) found in the service, kept
as explicit cases (memory-only apps: no server needed)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

StartClient = Callable[..., Awaitable[TestClient]]


# JSON has one number type and JSON Schema's "integer" (the document's)
# admits 698.0: the service used to refuse it with 400 bad_ttl_ms.
@pytest.mark.parametrize(("ttl_ms", "refused"), [
    (698.0, False), (1e3, False), (1.5, True), (True, True), ("10", True), (0.0, True),
])
async def test_mset_takes_a_whole_ttl_ms_even_written_as_a_float(
    app_client: StartClient, ttl_ms: Any, refused: bool
) -> None:
    client = await app_client()
    body = {"entries": {"k": {"value": "v", "ttl_ms": ttl_ms}}}
    response = await client.post("/cache/default/_mset", json=body)
    answer = await response.json()
    if refused:
        assert (response.status, answer["error"]) == (400, "bad_ttl_ms")
    else:
        assert (response.status, answer["stored"]) == (200, {"k": "memory"})
