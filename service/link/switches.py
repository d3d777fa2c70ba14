"""Sentinel's `+switch-master` announcements, heard from every sentinel.

    sentinel ──SUBSCRIBE +switch-master──► "<name> <old ip> <old port> <new ip> <new port>"
        ─► on_switch("old ip:port", "new ip:port")   (the link cuts its wait short)

Listening means the link moves to a promoted replica as soon as the
sentinels agree, instead of after its next failed command and backoff wait.
Every sentinel announces the same switch; the link ignores repeats. A
sentinel that cannot be reached is retried every RETRY_S: the link still
finds the master through the sentinels on its own attempts meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis

from service.link.classify import REDIS_FAILURES

CHANNEL = "+switch-master"
RETRY_S = 1.0


class MasterSwitches:
    def __init__(
        self, sentinels: Sequence[tuple[str, int]], master_name: str, options: dict[str, Any]
    ) -> None:
        self._sentinels = list(sentinels)
        self._master_name = master_name
        # RESP2: plain pub/sub messages, whatever redis-py's RESP3 handling does.
        self._options = {**options, "protocol": 2}
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, on_switch: Callable[[str, str], None]) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(host, port, on_switch), name=f"sentinel-{port}")
            for host, port in self._sentinels
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def _listen(self, host: str, port: int, on_switch: Callable[[str, str], None]) -> None:
        while True:
            client = Redis(host=host, port=port, **self._options)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        switch = self._parse(message)
                        if switch is not None:
                            on_switch(*switch)
            except REDIS_FAILURES:
                pass
            finally:
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(RETRY_S)

    def _parse(self, message: dict[str, Any]) -> tuple[str, str] | None:
        if message.get("type") != "message":
            return None
        data = message.get("data")
        words = (data.decode() if isinstance(data, bytes) else str(data)).split()
        if len(words) != 5 or words[0] != self._master_name:
            return None
        return f"{words[1]}:{words[2]}", f"{words[3]}:{words[4]}"
