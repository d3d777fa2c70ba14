"""One running purge per namespace: however many DELETEs of it come, and
however many other purges start meanwhile, they answer the running job
(202, same id) and no second SCAN of the namespace starts.

The job is held running by the test (its sweep waits on an event): what is
tested is the bookkeeping, not Redis's SCAN, which test_batch.py covers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from scripts.harness.redis_server import RedisServer
from service import appkeys
from service.cache.purge import KEPT_JOBS, PurgeJob
from tests.support.waiting import eventually, ready_client

StartClient = Callable[..., Awaitable[TestClient]]
OTHERS = [f"team{n}" for n in range(KEPT_JOBS + 6)]


async def test_a_second_delete_answers_the_running_job(
    app_client: StartClient, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespaces = {f"CACHE_{name.upper()}_TTL_MS": "60000" for name in OTHERS}
    client = await ready_client(app_client, redis_server.url, **namespaces)
    purges = client.app[appkeys.PURGES]
    gate = asyncio.Event()
    sweeps: list[str] = []

    async def held(job: PurgeJob) -> None:
        sweeps.append(job.namespace)
        if job.namespace == "default":
            await gate.wait()
        purges._finish(job, "done")

    monkeypatch.setattr(purges, "_run", held)
    first = await client.delete("/cache/default")
    assert first.status == 202
    job_id = (await first.json())["id"]
    # More finished jobs than are kept: the running one must outlive them.
    for name in OTHERS:
        assert (await client.delete(f"/cache/{name}")).status == 202
    await eventually(lambda: len(sweeps) == len(OTHERS) + 1, what="every sweep started")
    await eventually(lambda: len(purges._jobs) <= KEPT_JOBS + 1, what="old jobs forgotten")
    again = await client.delete("/cache/default")
    assert again.status == 202 and (await again.json())["id"] == job_id
    status = await client.get(again.headers["Location"])
    assert status.status == 200 and (await status.json())["state"] == "running"
    assert sweeps.count("default") == 1
    gate.set()
    await eventually(lambda: purges.find(job_id).state == "done", what="the purge done")  # type: ignore[union-attr]
    after = await client.delete("/cache/default")  # finished: a new job
    assert (await after.json())["id"] != job_id
