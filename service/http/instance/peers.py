"""Each worker's socket for its siblings, and asking them for their figures.

    a scrape of /metrics or /health/detailed reaches worker k
      -> k connects to {directory}/worker-{j}.sock for every other slot j
      -> sends one line naming what it wants ("metrics" or "health")
      -> j answers with its own figures and closes the connection
      -> k merges them with its own (exposition.py, instance_health.py)

A worker's slot (0..WORKERS-1) is handed out by the arbiter when it forks
the worker (the lowest free one), so a restarted worker takes over the slot,
the socket path and the `worker` label of the one it replaces. A sibling
that does not answer within PEER_TIMEOUT_S (restarting, or stuck) is left
out, and the merged answer says so. The directory is the instance's own
(created by the arbiter with mode 0700), so only this instance's workers
find these sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("roleready.workers")

# A sibling answers from figures it holds (no Redis round trip), so even a
# busy event loop answers well within this; longer would hold the scrape.
PEER_TIMEOUT_S = 1.0
MAX_REQUEST_BYTES = 64
Answerer = Callable[[str], Awaitable[bytes]]


@dataclass(frozen=True)
class Peers:
    """Where this worker and its siblings listen for each other."""

    slot: int
    count: int
    directory: Path
    timeout_s: float = PEER_TIMEOUT_S

    def path(self, slot: int) -> Path:
        return self.directory / f"worker-{slot}.sock"

    @property
    def siblings(self) -> list[int]:
        return [slot for slot in range(self.count) if slot != self.slot]


async def serve_peers(peers: Peers, answer: Answerer) -> asyncio.Server:
    """Listen on this worker's socket; `answer(kind)` gives the bytes sent back."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(peers.timeout_s):
                kind = (await reader.readline())[:MAX_REQUEST_BYTES].decode().strip()
                writer.write(await answer(kind))
                await writer.drain()
        except Exception as exc:  # a bad or vanished asker must not end the server
            log.warning("answering a sibling worker failed: %r", exc)
        finally:
            writer.close()

    path = peers.path(peers.slot)
    path.unlink(missing_ok=True)  # left by the worker this one replaces
    return await asyncio.start_unix_server(handle, path)


async def ask_siblings(peers: Peers, kind: str) -> dict[int, bytes | None]:
    """Each sibling's answer by slot, concurrently; None where none came."""
    slots = peers.siblings
    answers = await asyncio.gather(*(_ask(peers.path(slot), kind, peers.timeout_s)
                                     for slot in slots))
    return dict(zip(slots, answers, strict=True))


async def _ask(path: Path, kind: str, timeout_s: float) -> bytes | None:
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_unix_connection(path)
            writer.write(kind.encode() + b"\n")
            await writer.drain()
            answer = await reader.read()
    except (OSError, TimeoutError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
    return answer or None
