"""get_or_compute (both Python twins) against two service instances on one
Redis: one computation fleet-wide, a failed computation's lease given back,
an abandoned lease taken over, a write that overtakes the lease, and a stale
value served while one caller refreshes it."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator

import pytest
from roleready_cache_client import AsyncClient
from roleready_cache_client.protocol import Answer

from tests.clients.conftest import TOKEN, Fleet, unique
from tests.clients.twins import KINDS, Twin, twins

pytestmark = pytest.mark.redis


@pytest.fixture(params=KINDS)
async def pair(request: pytest.FixtureRequest, fleet: Fleet) -> AsyncIterator[tuple[Twin, Twin]]:
    """A client of each instance."""
    async with twins(request.param) as make:
        yield make(fleet.urls[0], token=TOKEN), make(fleet.urls[1], token=TOKEN)


class Counted:
    """A compute function (called from a thread by the sync twin) that counts its calls."""

    def __init__(self, value: str, seconds: float = 0.0) -> None:
        self.value = value
        self.seconds = seconds
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self.calls += 1
        time.sleep(self.seconds)  # long enough for every caller to be waiting
        return self.value


async def test_fifty_callers_over_two_instances_compute_once(pair: tuple[Twin, Twin]) -> None:
    key = unique("report")
    compute = Counted("the report", seconds=0.3)
    results = await asyncio.gather(*(
        pair[n % 2].get_or_compute(key, pair[n % 2].blocking(compute), ttl_ms=30_000) for n in range(50)))
    assert compute.calls == 1
    assert {entry.value for entry in results} == {b"the report"}
    assert [entry.source for entry in results].count("computed") == 1
    assert {entry.source for entry in results} <= {"computed", "hit-fill", "hit-memory", "hit-redis"}
    stored = await pair[1].get(key)
    assert stored is not None and stored.text() == "the report" and stored.max_age_s == 30


async def test_a_failed_computation_gives_its_lease_to_a_waiter(pair: tuple[Twin, Twin]) -> None:
    key = unique("fails")
    waiting = threading.Event()

    def failing() -> str:
        waiting.wait(5)  # until the other caller waits on the lease
        raise RuntimeError("the backend is down")

    first = asyncio.ensure_future(pair[0].get_or_compute(key, pair[0].blocking(failing)))
    await _until_lease_taken(pair[0], key)
    # Gives up well before the lease (1.5 s) would run out: only a lease
    # given back lets it compute and store.
    second = asyncio.ensure_future(pair[1].get_or_compute(
        key, pair[1].blocking(Counted("second try")), wait_ms=200, give_up_s=1.2))
    await asyncio.sleep(0.1)
    waiting.set()
    with pytest.raises(RuntimeError, match="backend is down"):
        await first
    assert (await second).text() == "second try"
    stored = await pair[0].get(key)
    assert stored is not None and stored.text() == "second try"


async def _until_lease_taken(client: Twin, key: str) -> None:
    for _ in range(100):
        answer: Answer = await client.send(client.protocol.leased_get(key, 0))
        if answer.headers.get("x-cache-lease") == "pending":
            return
        if "x-cache-lease" in answer.headers:  # we took it: give it back, look again
            await client.release_lease(key, answer.headers["x-cache-lease"])
        await asyncio.sleep(0.02)
    raise AssertionError("the first caller never took the lease")


async def test_an_abandoned_lease_is_taken_over(fleet: Fleet) -> None:
    # The takeover is the service's and the shared flow's (compute.py), and
    # waits a whole lease (1.5 s): shown once, with the async twin.
    async with twins("async") as make:
        a, b = (make(url, token=TOKEN) for url in fleet.urls)
        key = unique("abandoned")
        answer: Answer = await a.send(a.protocol.leased_get(key, 0))
        assert answer.headers["x-cache-lease"] not in ("", "pending")  # never filled nor given back
        compute = Counted("taken over")
        entry = await b.get_or_compute(key, b.blocking(compute), wait_ms=500)
        assert (entry.source, entry.text(), compute.calls) == ("computed", "taken over", 1)
        stored = await a.get(key)
        assert stored is not None and stored.text() == "taken over"


async def test_a_write_during_the_computation_wins(pair: tuple[Twin, Twin]) -> None:
    key = unique("overtaken")

    def compute() -> str:
        # Another writer stores the key while this caller computes: the
        # lease's PUT is refused (409) and the caller keeps its own value.
        asyncio.run_coroutine_threadsafe(pair[1].put(key, "the writer's"), loop).result(5)
        return "computed"

    loop = asyncio.get_running_loop()
    entry = await pair[0].get_or_compute(key, pair[0].blocking(compute))
    assert (entry.source, entry.text()) == ("computed", "computed")
    stored = await pair[0].get(key)
    assert stored is not None and stored.text() == "the writer's"


async def test_a_stale_value_is_served_while_one_caller_refreshes(pair: tuple[Twin, Twin]) -> None:
    swr = [Twin(client.client.with_namespace("swr")) for client in pair]
    key = unique("swr")
    await swr[0].put(key, "old")
    await asyncio.sleep(0.4)  # past its 300 ms TTL, within the 30 s stale window
    served_all = threading.Event()
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        served_all.wait(5)  # the refresh lands only after all ten were answered
        return "new"

    served = await asyncio.gather(*(
        swr[n % 2].get_or_compute(key, swr[n % 2].blocking(compute)) for n in range(10)))
    served_all.set()
    assert {(entry.value, entry.stale) for entry in served} == {(b"old", True)}
    assert sum(entry.refresh_lease is not None for entry in served) == 1
    for _ in range(250):  # the refresh runs in the background
        fresh = await swr[1].get(key)
        if fresh is not None and fresh.value == b"new":
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the stale value was never refreshed")
    assert calls == [1]
    for twin in swr:
        if isinstance(twin.client, AsyncClient):
            await twin.client.close()  # its refresh task is done: nothing left pending
