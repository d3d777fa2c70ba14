"""Which master the sentinels name: the one of their newest configuration.

    every sentinel asked at once: SENTINEL MASTERS
      ─► answers that name a usable master (role master, not down)
      ─► the first such answer, plus what the others answer within GRACE_S
      ─► the highest config-epoch among them wins

Why not redis-py's `discover_master` (the first sentinel that answers):
right after a failover a sentinel that has not heard of it yet still names
the demoted master, and after `SENTINEL FAILOVER` that master is alive and
keeps accepting writes for seconds. An instance sent there would write to
it while the others write to the new master. The config epoch orders
failovers: the highest one is the newest configuration. The grace bounds
what a hung sentinel costs: the answers that came, not a connect timeout.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.asyncio.sentinel import MasterNotFoundError, Sentinel
from redis.exceptions import RedisError

# How long, after the first usable answer, the other sentinels may answer.
GRACE_S = 0.1


async def newest_master(sentinel: Sentinel, name: str) -> tuple[str, int]:
    """(host, port) of the master `name` in the newest configuration the
    sentinels answer with; MasterNotFoundError when none names a usable one."""
    asking = {asyncio.ensure_future(client.sentinel_masters()): str(client)
              for client in sentinel.sentinels}
    usable: list[dict[str, Any]] = []
    errors: list[str] = []
    pending = set(asking)
    try:
        while pending:
            done, pending = await asyncio.wait(
                pending, timeout=GRACE_S if usable else None,
                return_when=asyncio.ALL_COMPLETED if usable else asyncio.FIRST_COMPLETED)
            if not done:
                break  # the grace is over
            for task in done:
                _collect(task, asking[task], name, sentinel, usable, errors)
    finally:
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    if not usable:
        detail = f" : {', '.join(errors)}" if errors else ""
        raise MasterNotFoundError(f"No master found for {name!r}{detail}")
    state = max(usable, key=lambda answer: int(answer.get("config-epoch", 0)))
    return state["ip"], int(state["port"])


def _collect(task: asyncio.Future[Any], who: str, name: str, sentinel: Sentinel,
             usable: list[dict[str, Any]], errors: list[str]) -> None:
    error = task.exception()
    if isinstance(error, (RedisError, OSError)):
        errors.append(f"{who} - {error!r}")
        return
    if error is not None:
        raise error
    state = task.result().get(name)
    if state and sentinel.check_master_state(state, name):
        usable.append(state)
