"""The load: GET/PUT/DELETE at a fixed rate over a small key space, every
operation recorded for the history checker.

    plan_load (seeded: instance, method, key of each op)
      ─► run_load: op i is sent at t0 + i / rate, whatever the others do
      ─► [Op(instance, op, key, value, status, start, end, error, source)]

Open loop on purpose: a closed loop (send the next when the last answered)
slows down exactly when the service stalls and so hides the stall. Each PUT
writes "<instance>-<i>", unique in the run, so a value read names the PUT
that wrote it. Start and end are time.monotonic() (CLOCK_MONOTONIC, the
clock of the services' journals) just before sending and after the body.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aiohttp

from scripts.soak.history import Op, tag_of

__all__ = ["NAMESPACE", "Mix", "Planned", "plan_load", "run_load"]

NAMESPACE = "default"
REQUEST_TIMEOUT_S = 5.0  # far above any answer the service owes (250 ms budget)


@dataclass(frozen=True)
class Mix:
    """The weight of each method (random.choices: they need not sum to 1)."""

    get: float = 0.6
    put: float = 0.3
    delete: float = 0.1
    # POST _invalidate of a tag (history.tag_of: every PUT tags its value).
    invalidate: float = 0.01


@dataclass(frozen=True, slots=True)
class Planned:
    at: float  # seconds after the load's start
    instance: str
    op: str
    key: str
    value: str | None  # what a PUT writes


def plan_load(duration_s: float, rate: float, keys: int, instances: Sequence[str],
              rng: random.Random, mix: Mix = Mix()) -> list[Planned]:
    """Every operation of the run, from the seed alone (reproducible)."""
    names = [f"k{i:02d}" for i in range(keys)]
    methods = ("GET", "PUT", "DELETE", "INVALIDATE")
    weights = (mix.get, mix.put, mix.delete, mix.invalidate)
    plan = []
    for i in range(int(duration_s * rate)):
        instance = rng.choice(instances)
        method = rng.choices(methods, weights)[0]
        value = f"{instance}-{i}" if method == "PUT" else None
        key = rng.choice(names)
        # An INVALIDATE's "key" is the tag it invalidates.
        plan.append(Planned(i / rate, instance, method,
                            tag_of(key) if method == "INVALIDATE" else key, value))
    return plan


async def run_load(urls: Mapping[str, str], plan: Sequence[Planned], t0: float) -> list[Op]:
    """Send `plan` (times after `t0` on time.monotonic()) to `urls[instance]`."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    # One pool per instance, no limit: a stalled instance cannot hold the
    # other's requests back, nor the pool its own.
    sessions = {name: aiohttp.ClientSession(url, timeout=timeout,
                                            connector=aiohttp.TCPConnector(limit=0))
                for name, url in urls.items()}
    tasks: list[asyncio.Task[Op]] = []
    try:
        for planned in plan:
            delay = t0 + planned.at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(sessions[planned.instance], planned)))
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        for session in sessions.values():
            await session.close()


def _request(planned: Planned) -> tuple[str, str, dict[str, object]]:
    """The HTTP method, path and aiohttp arguments of one planned operation."""
    if planned.op == "INVALIDATE":
        return "POST", f"/cache/{NAMESPACE}/_invalidate", {"json": {"tags": [planned.key]}}
    path = f"/cache/{NAMESPACE}/{planned.key}"
    if planned.op == "PUT":
        data = planned.value.encode() if planned.value is not None else None
        return "PUT", path, {"data": data, "headers": {"X-Cache-Tags": tag_of(planned.key)}}
    return planned.op, path, {}


async def _send(session: aiohttp.ClientSession, planned: Planned) -> Op:
    method, path, arguments = _request(planned)
    start = time.monotonic()
    try:
        async with session.request(method, path, **arguments) as response:  # type: ignore[arg-type]
            body = await response.read()
            end = time.monotonic()
            status, source = response.status, response.headers.get("X-Cache", "")
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Op(planned.instance, planned.op, planned.key, planned.value, None, start,
                  time.monotonic(), error=f"{type(exc).__name__}: {exc}"[:200])
    value = planned.value
    if planned.op == "GET":
        value = body.decode(errors="replace") if status == 200 else None
    return Op(planned.instance, planned.op, planned.key, value, status, start, end,
              source=source)
