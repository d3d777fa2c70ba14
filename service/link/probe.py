"""One bounded look at Redis: PING round-trip time and INFO memory.

Used by /health/detailed and /metrics. Both commands share one pipelined
round trip with the command timeout, so a hung Redis costs a probe at most
REDIS_COMMAND_TIMEOUT_MS; when the link is not ready it costs nothing.

PING alone decides whether Redis is healthy. INFO is optional: a Redis user
whose ACL refuses it gets a null memory figure, not an unhealthy check and
not a counted error, so the probe never contradicts the state machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from service.link.interface import Link
from service.link.session import OptionalCommand


@dataclass(frozen=True, slots=True)
class ProbeResult:
    response_time_s: float
    used_memory_bytes: int | None
    used_memory_human: str | None
    maxmemory_bytes: int | None


def parse_info(raw: bytes | str | None) -> dict[str, str]:
    if raw is None:
        return {}
    text = raw.decode() if isinstance(raw, bytes) else raw
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and not name.startswith("#"):
            fields[name.strip()] = value.strip()
    return fields


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


async def probe(link: Link, timeout_s: float) -> ProbeResult | None:
    """None when the link is not ready or Redis did not answer in time.

    A lazy link that never connected is woken and given `timeout_s` to do so,
    so the first health check after start-up shows the real state."""
    await link.first_connect(timeout_s)
    started = time.perf_counter()
    replies = await link.execute((("PING",), OptionalCommand(("INFO", "memory"))))
    if replies is None:
        return None
    elapsed = time.perf_counter() - started
    fields = parse_info(replies[1])
    return ProbeResult(
        response_time_s=elapsed,
        used_memory_bytes=_int(fields.get("used_memory")),
        used_memory_human=fields.get("used_memory_human"),
        maxmemory_bytes=_int(fields.get("maxmemory")),
    )
