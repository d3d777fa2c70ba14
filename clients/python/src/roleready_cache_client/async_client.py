"""The asyncio client: aiohttp's connection pool under the shared protocol
(the sync twin is sync_client.py; both send what protocol.py builds)."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import aiohttp

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
Compute = Callable[[], bytes | str | Awaitable[bytes | str]]
log = logging.getLogger("roleready_cache_client")


class AsyncClient:
    """One namespace of one service, over a pool of `pool_size` connections
    (at least 2: leased GETs that wait in the service use all but one).

    Use `async with AsyncClient(...) as cache:` or call `await close()`:
    the session belongs to the client (or is shared by `with_namespace`).
    """

    def __init__(self, base_url: str, namespace: str = "default", *, token: str | None = None,
                 timeout_s: float = 5.0, connect_timeout_s: float = 1.0,
                 pool_size: int = 10, _session: aiohttp.ClientSession | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.protocol = Protocol(namespace, token)
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.pool_size = max(2, pool_size)
        # Leased GETs hold a connection while the service waits for the
        # holder; if they took every connection, the holder's PUT, which
        # ends their wait, would queue behind them (until they time out).
        # So one connection always stays for everything else.
        self._lease_waits = asyncio.Semaphore(self.pool_size - 1)
        self._session = _session
        self._owns_session = _session is None
        self._refreshes: set[asyncio.Task[Any]] = set()

    def with_namespace(self, namespace: str) -> AsyncClient:
        """The same service, pool and token, another namespace."""
        return AsyncClient(self.base_url, namespace, token=self.protocol.token,
                           timeout_s=self.timeout_s, connect_timeout_s=self.connect_timeout_s,
                           _session=self._http())

    def _http(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running loop (aiohttp wants one).
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool_size))
        return self._session

    async def close(self) -> None:
        """Stop background refreshes (their leases run out) and close the pool."""
        for task in list(self._refreshes):
            task.cancel()
        await asyncio.gather(*self._refreshes, return_exceptions=True)
        if self._owns_session and self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- sending ---------------------------------------------------------------------

    async def send(self, call: Call[Any]) -> Answer:
        if call.extra_wait_s:
            async with self._lease_waits:
                return await self._send(call)
        return await self._send(call)

    async def _send(self, call: Call[Any]) -> Answer:
        timeout = aiohttp.ClientTimeout(total=self.timeout_s + call.extra_wait_s,
                                        sock_connect=self.connect_timeout_s)
        try:
            # base_url + path: a service behind a path prefix keeps it.
            async with self._http().request(call.method, self.base_url + call.path, data=call.body,
                                            headers=call.headers, timeout=timeout,
                                            allow_redirects=False) as response:
                body = await response.read()
        except TimeoutError as exc:
            raise Timeout(f"{call.method} {call.path}: no answer in time") from exc
        except aiohttp.ClientError as exc:
            raise ConnectionFailed(f"{call.method} {call.path}: {exc}") from exc
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Answer(response.status, headers, body)

    async def run(self, call: Call[T]) -> T:
        return call.read(await self.send(call))

    # -- the operations (protocol.py says what each sends and reads) --------------------

    async def get(self, key: str, *, previous: Entry | None = None) -> Entry | None:
        return await self.run(self.protocol.get(key, previous))

    async def invalidate(self, tags: Iterable[str]) -> dict[str, Any]:
        """Drop every value of the namespace carrying one of `tags`, fleet-wide."""
        return await self.run(self.protocol.invalidate(tags))

    async def put(self, key: str, value: bytes | str, *, content_type: str | None = None,
                  ttl_ms: int | None = None, lease: str | None = None,
                  tags: Iterable[str] = ()) -> Stored:
        return await self.run(self.protocol.put(key, value, content_type=content_type,
                                                ttl_ms=ttl_ms, lease=lease, tags=tags))

    async def delete(self, key: str) -> Stored:
        return await self.run(self.protocol.delete(key))

    async def release_lease(self, key: str, token: str) -> None:
        await self.run(self.protocol.release_lease(key, token))

    async def mget(self, keys: Iterable[str]) -> dict[str, Entry | None]:
        """As Client.mget: every key, an answer cut at the budget continued."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Entry | None] = {}
        left = wanted
        while left:
            before = len(found)
            answer = await self.run(self.protocol.mget(left))
            found.update(answer)
            left = self.protocol.unread(left, found, before)
        return {key: found[key] for key in wanted}

    async def mset(self, entries: Mapping[str, bytes | str | NewValue], *,
                   ttl_ms: int | None = None) -> StoredMany:
        return await self.run(self.protocol.mset(entries, ttl_ms))

    async def mdelete(self, keys: Iterable[str]) -> dict[str, str]:
        return await self.run(self.protocol.mdelete(keys))

    async def purge(self) -> PurgeJob:
        return await self.run(self.protocol.purge())

    async def purge_status(self, job_id: str) -> PurgeJob:
        return await self.run(self.protocol.purge_status(job_id))

    async def health(self) -> dict[str, Any]:
        return await self.run(self.protocol.health())

    async def status(self) -> dict[str, Any]:
        return await self.run(self.protocol.status())

    async def get_or_compute(self, key: str, compute: Compute, *, ttl_ms: int | None = None,
                             content_type: str | None = None, wait_ms: int | None = None,
                             give_up_s: float = 30.0) -> Entry:
        """The cached value, or `compute()`'s (sync or async), computed once
        fleet-wide (compute.py)."""
        plan = Plan(key, ttl_ms, content_type, wait_ms, give_up_s)
        return await self._drive(get_or_compute(self.protocol, plan, time.monotonic), compute)

    async def _drive(self, flow: Flow, compute: Compute) -> Entry:
        reply: Any = None
        error: BaseException | None = None
        while not isinstance(step := advance(flow, reply, error), Done):
            reply, error = None, None
            try:
                if isinstance(step, ComputeStep):
                    reply = compute()
                    if inspect.isawaitable(reply):
                        reply = await reply
                elif isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, Background):
                    task = asyncio.create_task(self._background(step.flow, compute))
                    self._refreshes.add(task)
                    task.add_done_callback(self._refreshes.discard)
                else:
                    reply = await self.send(step)
            except (Exception, asyncio.CancelledError) as exc:  # the flow gives its lease back
                error = exc
        return step.entry

    async def _background(self, flow: Flow, compute: Compute) -> None:
        try:
            await self._drive(flow, compute)
        except Exception:
            log.warning("background refresh failed", exc_info=True)
