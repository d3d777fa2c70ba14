"""A batch read through an in-process service, as the batch tests make it."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient


async def mget(client: TestClient, keys: list[str], namespace: str = "default") -> Any:
    """`_mget` of `keys`: its 200 answer's JSON (any other status fails)."""
    response = await client.post(f"/cache/{namespace}/_mget", json={"keys": keys})
    body = await response.json()
    assert response.status == 200, body
    return body
