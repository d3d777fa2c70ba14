"""The blocking client: urllib3's connection pool under the shared protocol.

Why urllib3: a thread-safe keep-alive pool with connect and read timeouts,
pure Python with no dependencies of its own (and already present wherever
requests is). httpx would bring httpcore, h11, anyio, certifi, idna and
sniffio for nothing the protocol needs; a hand-made pool over http.client
would be more code to get right (dropped keep-alive connections, timeouts).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, TimeoutError

from roleready_cache_client.compute import (
    Background,
    ComputeStep,
    Done,
    Flow,
    Plan,
    Sleep,
    advance,
    get_or_compute,
)
from roleready_cache_client.errors import ConnectionFailed, Timeout
from roleready_cache_client.protocol import Answer, Call, Protocol
from roleready_cache_client.results import Entry, NewValue, PurgeJob, Stored, StoredMany

T = TypeVar("T")
log = logging.getLogger("roleready_cache_client")


class Client:
    """One namespace of one service, over a pool that keeps `pool_size`
    connections (more threads than that open more, closed after use).

    `timeout_s` bounds each wait for the answer's bytes (a leased GET gets
    its wait on top); `connect_timeout_s` each connection. Thread-safe.
    """

    def __init__(self, base_url: str, namespace: str = "default", *, token: str | None = None,
                 timeout_s: float = 5.0, connect_timeout_s: float = 1.0,
                 pool_size: int = 10, _pool: urllib3.HTTPConnectionPool | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        # A service behind a path prefix (a proxy's /cache-service) keeps it.
        self._prefix = urlsplit(self.base_url).path
        self.protocol = Protocol(namespace, token)
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._owns_pool = _pool is None
        self._pool = _pool or urllib3.connection_from_url(
            self.base_url, maxsize=pool_size, block=False, retries=False)

    def with_namespace(self, namespace: str) -> Client:
        """The same service, pool and token, another namespace."""
        return Client(self.base_url, namespace, token=self.protocol.token,
                      timeout_s=self.timeout_s, connect_timeout_s=self.connect_timeout_s,
                      _pool=self._pool)

    def close(self) -> None:
        """Close the pool (a `with_namespace` client leaves it to its parent)."""
        if self._owns_pool:
            self._pool.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- sending ---------------------------------------------------------------------

    def send(self, call: Call[Any]) -> Answer:
        """Send a call and return the raw answer (typed errors for transport failures)."""
        timeout = urllib3.Timeout(connect=self.connect_timeout_s,
                                  read=self.timeout_s + call.extra_wait_s)
        try:
            response = self._pool.urlopen(call.method, self._prefix + call.path, body=call.body,
                                          headers=call.headers, timeout=timeout,
                                          retries=False, redirect=False)
        except NewConnectionError as exc:  # urllib3 makes it a ConnectTimeoutError too
            raise ConnectionFailed(f"{call.method} {call.path}: {exc}") from exc
        except TimeoutError as exc:
            raise Timeout(f"{call.method} {call.path}: no answer in time ({exc})") from exc
        except HTTPError as exc:
            raise ConnectionFailed(f"{call.method} {call.path}: {exc}") from exc
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Answer(response.status, headers, response.data)

    def run(self, call: Call[T]) -> T:
        return call.read(self.send(call))

    # -- the operations (protocol.py says what each sends and reads) --------------------

    def get(self, key: str, *, previous: Entry | None = None) -> Entry | None:
        return self.run(self.protocol.get(key, previous))

    def invalidate(self, tags: Iterable[str]) -> dict[str, Any]:
        """Drop every value of the namespace carrying one of `tags`, fleet-wide."""
        return self.run(self.protocol.invalidate(tags))

    def put(self, key: str, value: bytes | str, *, content_type: str | None = None,
            ttl_ms: int | None = None, lease: str | None = None,
            tags: Iterable[str] = ()) -> Stored:
        return self.run(self.protocol.put(key, value, content_type=content_type,
                                          ttl_ms=ttl_ms, lease=lease, tags=tags))

    def delete(self, key: str) -> Stored:
        return self.run(self.protocol.delete(key))

    def release_lease(self, key: str, token: str) -> None:
        self.run(self.protocol.release_lease(key, token))

    def mget(self, keys: Iterable[str]) -> dict[str, Entry | None]:
        """Every key's entry (None: a miss), in the order asked; an answer
        the service cut at its byte budget is continued with the keys it left."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Entry | None] = {}
        left = wanted
        while left:
            before = len(found)
            answer = self.run(self.protocol.mget(left))
            found.update(answer)
            left = self.protocol.unread(left, found, before)
        return {key: found[key] for key in wanted}

    def mset(self, entries: Mapping[str, bytes | str | NewValue], *,
             ttl_ms: int | None = None) -> StoredMany:
        return self.run(self.protocol.mset(entries, ttl_ms))

    def mdelete(self, keys: Iterable[str]) -> dict[str, str]:
        return self.run(self.protocol.mdelete(keys))

    def purge(self) -> PurgeJob:
        return self.run(self.protocol.purge())

    def purge_status(self, job_id: str) -> PurgeJob:
        return self.run(self.protocol.purge_status(job_id))

    def health(self) -> dict[str, Any]:
        return self.run(self.protocol.health())

    def status(self) -> dict[str, Any]:
        return self.run(self.protocol.status())

    def get_or_compute(self, key: str, compute: Callable[[], bytes | str], *,
                       ttl_ms: int | None = None, content_type: str | None = None,
                       wait_ms: int | None = None, give_up_s: float = 30.0) -> Entry:
        """The cached value, or `compute()`'s, computed once fleet-wide (compute.py)."""
        plan = Plan(key, ttl_ms, content_type, wait_ms, give_up_s)
        return self._drive(get_or_compute(self.protocol, plan, time.monotonic), compute)

    def _drive(self, flow: Flow, compute: Callable[[], bytes | str]) -> Entry:
        reply: Any = None
        error: BaseException | None = None
        while not isinstance(step := advance(flow, reply, error), Done):
            reply, error = None, None
            try:
                if isinstance(step, ComputeStep):
                    reply = compute()
                elif isinstance(step, Sleep):
                    time.sleep(step.seconds)
                elif isinstance(step, Background):
                    threading.Thread(target=self._background, args=(step.flow, compute),
                                     daemon=True).start()
                else:
                    reply = self.send(step)
            except Exception as exc:  # handed to the flow, which may clean up and re-raise
                error = exc
        return step.entry

    def _background(self, flow: Flow, compute: Callable[[], bytes | str]) -> None:
        try:
            self._drive(flow, compute)
        except Exception:
            log.warning("background refresh failed", exc_info=True)
