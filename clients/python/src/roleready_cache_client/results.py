"""What the calls return: a read value with where it came from, where a
write landed, a purge job. Plain frozen dataclasses, the same for the sync
and the async client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

# X-Cache values, plus "computed" for a value get_or_compute computed itself.
Source = Literal["hit-memory", "hit-redis", "hit-fill", "computed"]
Where = Literal["redis", "memory"]


@dataclass(frozen=True, slots=True)
class Entry:
    """A value read from the cache, and what the answer said about it.

    `degraded`: answered while the service could not reach Redis
    (X-Cache-Degraded). `stale`: past its TTL, served within the namespace's
    stale window (X-Cache-Stale) while one caller refreshes it. `refresh_lease`:
    the token this caller got to refresh it (get_or_compute uses it).
    `not_modified`: the service answered 304 to the ETag of the copy passed
    as `previous`, and this is that copy with the answer's fresh headers.
    """

    key: str
    value: bytes
    content_type: str
    source: Source
    etag: str | None = None
    age_s: int | None = None
    max_age_s: int | None = None
    stale: bool = False
    degraded: bool = False
    refresh_lease: str | None = None
    not_modified: bool = False
    cache_status: str | None = None
    request_id: str | None = None

    def text(self) -> str:
        return self.value.decode()

    def json(self) -> Any:
        return json.loads(self.value)


@dataclass(frozen=True, slots=True)
class Stored:
    """Where a PUT or DELETE landed: "redis", or "memory" while Redis is
    unreachable (then `degraded`; the service replays it when Redis is back)."""

    where: Where
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class StoredMany:
    """An mset's answer: where each key landed, and the keys not stored (too
    large for memory while Redis is unreachable)."""

    stored: dict[str, Where]
    not_stored: list[str]
    degraded: bool = False


@dataclass(frozen=True, slots=True)
class NewValue:
    """An mset entry with its own content type or TTL (plain bytes or str
    take the defaults)."""

    value: bytes | str
    content_type: str | None = None
    ttl_ms: int | None = None


@dataclass(frozen=True, slots=True)
class PurgeJob:
    """A namespace purge (it runs in the background on the instance that
    started it; `purge_status` asks that instance)."""

    id: str
    namespace: str
    state: Literal["running", "done", "deferred"]
    unlinked: int
    forgotten_in_memory: int
    started_at_ms: int
    finished_at_ms: int | None

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> PurgeJob:
        return cls(id=document["id"], namespace=document["namespace"],
                   state=document["state"], unlinked=document["unlinked"],
                   forgotten_in_memory=document["forgottenInMemory"],
                   started_at_ms=document["startedAtMs"],
                   finished_at_ms=document.get("finishedAtMs"))
