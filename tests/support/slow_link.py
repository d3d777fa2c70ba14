"""A TCP proxy in front of a Redis whose answers trickle, as over a slow
network: what a client sends passes at once, what Redis answers passes
`chunk` bytes at a time with a pause between; `hold()` stops the answers
(a hang in mid-reply), `release()` lets them flow again."""

from __future__ import annotations

import asyncio
import contextlib

from scripts.harness.ports import free_port


class SlowLink:
    def __init__(self, target_port: int, chunk: int, pause_s: float) -> None:
        self.port = free_port()
        self._target = target_port
        self._chunk = chunk
        self._pause_s = pause_s
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    async def start(self) -> SlowLink:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    def hold(self) -> None:
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        redis_r, redis_w = await asyncio.open_connection("127.0.0.1", self._target)
        for task in (self._pipe(client_r, redis_w, slow=False), self._pipe(redis_r, client_w, slow=True)):
            started = asyncio.create_task(task)
            self._tasks.add(started)
            started.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter,
                    slow: bool) -> None:
        with contextlib.suppress(OSError):
            try:
                while data := await source.read(self._chunk if slow else 65536):
                    if slow:
                        await self._flowing.wait()
                        await asyncio.sleep(self._pause_s)
                    sink.write(data)
                    await sink.drain()
            finally:
                sink.close()
