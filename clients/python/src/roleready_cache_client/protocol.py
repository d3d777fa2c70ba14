"""The protocol, without I/O: each operation as a request to send and a
function that reads its answer. The sync and the async client (and
get_or_compute's flow) only send what this builds and hand back what came.

    Protocol.get(key) ─► Call(method, path, headers, body, read) ─► a client sends it
    the answer (status, lower-case headers, body) ─► call.read(answer) ─► Entry | None | raise

Keys are checked here with the service's own rule before anything is sent:
a key holding '/' would otherwise reach another route (".../lease").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from roleready_cache_client.errors import BadRequest, CacheError, error_for
from roleready_cache_client.results import (
    Entry,
    NewValue,
    PurgeJob,
    Stored,
    StoredMany,
    Where,
)
from roleready_cache_client.values import BYTES, batch_entry, batch_value, encode

T = TypeVar("T")
KEY_PATTERN = re.compile(r"[A-Za-z0-9._~:-]{1,512}")
NAMESPACE_PATTERN = re.compile(r"[a-z0-9_]{1,64}")
JSON = "application/json"
USER_AGENT = "roleready-cache-client-python/0.1.0"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[Answer], T]
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    # A leased GET may wait this long in the service before it answers.
    extra_wait_s: float = 0.0


def check_key(key: str) -> str:
    if not isinstance(key, str) or KEY_PATTERN.fullmatch(key) is None:
        raise BadRequest(f"Bad key {key!r}: keys are 1-512 characters of letters, digits "
                         "and . _ ~ : -", code="bad_key", body={"key": str(key)})
    return key


def entry_from(key: str, answer: Answer, source: str | None = None) -> Entry:
    """A 200 hit's Entry, from its headers."""
    headers = answer.headers
    return Entry(
        key=key, value=answer.body,
        content_type=headers.get("content-type", BYTES),
        source=source or headers.get("x-cache", "hit-redis"),  # type: ignore[arg-type]
        etag=headers.get("etag"),
        age_s=_int(headers.get("age")),
        max_age_s=_max_age(headers.get("cache-control", "")),
        stale=headers.get("x-cache-stale") == "true",
        degraded="x-cache-degraded" in headers,
        refresh_lease=headers.get("x-cache-lease"),
        cache_status=headers.get("cache-status"),
        request_id=headers.get("x-request-id"),
    )


def _int(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() else None


def _max_age(cache_control: str) -> int | None:
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name == "max-age":
            return _int(value)
    return None


def is_miss(answer: Answer) -> bool:
    """A 404 that is a miss (X-Cache: miss), not an unknown namespace."""
    return answer.status == 404 and answer.headers.get("x-cache") == "miss"


def expect(answer: Answer, *statuses: int) -> Answer:
    """The answer when its status is one of `statuses`; else its typed error."""
    if answer.status not in statuses:
        raise error_for(answer.status, answer.headers, answer.body)
    return answer


class Protocol:
    """Builds the calls of one namespace of one service."""

    def __init__(self, namespace: str, token: str | None = None) -> None:
        if NAMESPACE_PATTERN.fullmatch(namespace) is None:
            raise ValueError(f"Bad namespace {namespace!r}: lower-case letters, digits and _")
        self.namespace = namespace
        self.token = token
        self.headers = {"User-Agent": USER_AGENT}
        if token is not None:
            self.headers["Authorization"] = f"Bearer {token}"

    def _path(self, key: str | None = None, suffix: str = "") -> str:
        base = f"/cache/{self.namespace}"
        return base + suffix if key is None else f"{base}/{quote(check_key(key), safe=':~')}{suffix}"

    def _call(self, method: str, path: str, read: Callable[[Answer], T], *,
              headers: Mapping[str, str] | None = None, body: bytes | None = None,
              extra_wait_s: float = 0.0) -> Call[T]:
        return Call(method, path, read, {**self.headers, **(headers or {})}, body, extra_wait_s)

    # -- one key ---------------------------------------------------------------

    def get(self, key: str, previous: Entry | None = None) -> Call[Entry | None]:
        """GET; with `previous` (an Entry of this key) If-None-Match its ETag,
        so an unchanged value comes back as a 304 without its body."""
        def read(answer: Answer) -> Entry | None:
            if is_miss(answer):
                return None
            if answer.status == 304 and previous is not None:
                fresh = entry_from(key, Answer(200, answer.headers, previous.value))
                return replace(fresh, content_type=previous.content_type, not_modified=True)
            return entry_from(key, expect(answer, 200))
        conditional = {"If-None-Match": previous.etag} if previous and previous.etag else {}
        return self._call("GET", self._path(key), read, headers=conditional)

    def leased_get(self, key: str, wait_ms: int | None) -> Call[Answer]:
        """GET ?lease=1 (get_or_compute reads the raw answer itself)."""
        query = "?lease=1" if wait_ms is None else f"?lease=1&wait_ms={wait_ms}"
        return self._call("GET", self._path(key) + query, lambda answer: answer,
                          extra_wait_s=(wait_ms if wait_ms is not None else 30_000) / 1000)

    def put(self, key: str, value: bytes | str, *, content_type: str | None = None,
            ttl_ms: int | None = None, lease: str | None = None,
            tags: Iterable[str] = ()) -> Call[Stored]:
        body, media_type = encode(value, content_type)
        headers = {"Content-Type": media_type}
        if lease is not None:
            headers["X-Cache-Lease"] = lease
        if tags:
            headers["X-Cache-Tags"] = ", ".join(tags)
        query = "" if ttl_ms is None else f"?ttl_ms={int(ttl_ms)}"
        return self._call("PUT", self._path(key) + query, _stored, headers=headers, body=body)

    def delete(self, key: str) -> Call[Stored]:
        return self._call("DELETE", self._path(key), _stored)

    def release_lease(self, key: str, token: str) -> Call[None]:
        """Give a lease back without a value: a waiter takes over at once."""
        return self._call("DELETE", self._path(key, "/lease"), lambda a: _none(expect(a, 204)),
                          headers={"X-Cache-Lease": token})

    # -- batches and purge -----------------------------------------------------------

    def mget(self, keys: Iterable[str]) -> Call[dict[str, Entry | None]]:
        """One `_mget`: its hits and misses; a key the answer left `unread`
        (past the service's answer budget) is absent: `read_all` asks again."""
        wanted = [check_key(key) for key in keys]

        def read(answer: Answer) -> dict[str, Entry | None]:
            document = json.loads(expect(answer, 200).body)
            degraded = "x-cache-degraded" in answer.headers
            found: dict[str, Entry | None] = dict.fromkeys(document["misses"])
            for key, hit in document["hits"].items():
                found[key] = batch_entry(key, hit, degraded)
            return found
        return self._json_call("/_mget", {"keys": wanted}, read)

    @staticmethod
    def unread(wanted: list[str], found: Mapping[str, Entry | None], before: int) -> list[str]:
        """The keys of `wanted` still to ask for after an `_mget` answer.
        The service carries at least one value per answer, so an answer that
        added nothing is a broken promise, not a reason to loop forever."""
        if len(found) == before:
            raise CacheError("an _mget answer read none of the keys asked for")
        return [key for key in wanted if key not in found]

    def mset(self, entries: Mapping[str, bytes | str | NewValue],
             ttl_ms: int | None = None) -> Call[StoredMany]:
        body = {check_key(key): batch_value(item, ttl_ms) for key, item in entries.items()}

        def read(answer: Answer) -> StoredMany:
            document = json.loads(expect(answer, 200).body)
            return StoredMany(document["stored"], document["notStored"],
                              "x-cache-degraded" in answer.headers)
        return self._json_call("/_mset", {"entries": body}, read)

    def mdelete(self, keys: Iterable[str]) -> Call[dict[str, str]]:
        wanted = [check_key(key) for key in keys]
        return self._json_call("/_mdelete", {"keys": wanted},
                               lambda answer: json.loads(expect(answer, 200).body)["deleted"])

    def _json_call(self, suffix: str, document: Any, read: Callable[[Answer], T]) -> Call[T]:
        return self._call("POST", self._path(None, suffix), read,
                          headers={"Content-Type": JSON}, body=json.dumps(document).encode())

    def invalidate(self, tags: Iterable[str]) -> Call[dict[str, Any]]:
        """Drop every value of the namespace carrying one of `tags`, on every
        instance: the service's answer (`tags`, `invalidatedAt`, ...)."""
        return self._json_call("/_invalidate", {"tags": list(tags)},
                               lambda answer: json.loads(expect(answer, 200).body))

    def purge(self) -> Call[PurgeJob]:
        """Purge the whole namespace, fleet-wide (202 and the job)."""
        return self._call("DELETE", self._path(), _job(202))

    def purge_status(self, job_id: str) -> Call[PurgeJob]:
        return self._call("GET", self._path(None, f"/_purge/{quote(job_id, safe='')}"), _job(200))

    # -- the service ----------------------------------------------------------------

    def health(self) -> Call[dict[str, Any]]:
        """GET /health/detailed: always 200; `status` "healthy" or "degraded"."""
        return self._call("GET", "/health/detailed",
                          lambda answer: json.loads(expect(answer, 200).body))

    def status(self) -> Call[dict[str, Any]]:
        return self._call("GET", "/api/status", lambda answer: json.loads(expect(answer, 200).body))


def _stored(answer: Answer) -> Stored:
    headers = expect(answer, 204).headers
    where: Where = "memory" if headers.get("x-cache-stored") == "memory" else "redis"
    return Stored(where, "x-cache-degraded" in headers)


def _none(_: Answer) -> None:
    return None


def _job(status: int) -> Callable[[Answer], PurgeJob]:
    return lambda answer: PurgeJob.from_json(json.loads(expect(answer, status).body))
