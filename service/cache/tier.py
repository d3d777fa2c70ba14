"""The cache vocabulary every tier speaks: get, put, delete by (namespace, key).

    Tier (async)      RedisTier, TwoTierCache
    same, synchronous MemoryTier (a hit must not cost a coroutine)

`get` answers something `Stored` (a value and its content type) or None;
`put` answers whether the value was stored; `delete` whether the tier could
carry it out (a key that was not there counts as deleted). TTLs are in
milliseconds. tests/integration/test_tier_contract.py runs one set of behaviour
tests against all three.
"""

from __future__ import annotations

from typing import Protocol


class Stored(Protocol):
    """What a tier answers for a hit."""

    @property
    def value(self) -> bytes: ...

    @property
    def content_type(self) -> str: ...


class Tier(Protocol):
    async def get(self, namespace: str, key: str) -> Stored | None: ...

    async def put(
        self, namespace: str, key: str, value: bytes, content_type: str, ttl_ms: int
    ) -> bool: ...

    async def delete(self, namespace: str, key: str) -> bool: ...
