"""One bounded look at Redis: PING round-trip time and INFO memory.

Used by /health/detailed and /metrics. Both commands share one pipelined
round trip with the command timeout, so a hung Redis costs a probe at most
REDIS_COMMAND_TIMEOUT_MS; when the link is not ready it costs nothing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from service.link.classify import REDIS_FAILURES
from service.link.driver import RedisLink
from service.link.pipeline import mark_retrieved


@dataclass(frozen=True, slots=True)
class ProbeResult:
    response_time_s: float
    used_memory_bytes: int | None
    used_memory_human: str | None
    maxmemory_bytes: int | None


def parse_info(raw: bytes | str) -> dict[str, str]:
    text = raw.decode() if isinstance(raw, bytes) else raw
    fields: dict[str, str] = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and not name.startswith("#"):
            fields[name.strip()] = value.strip()
    return fields


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


async def probe(link: RedisLink, timeout_s: float) -> ProbeResult | None:
    """None when the link is not ready or Redis did not answer in time.

    A lazy link that never connected is woken and given `timeout_s` to do so,
    so the first health check after start-up shows the real state."""
    session = await link.first_session(timeout_s)
    if session is None:
        return None
    started = time.perf_counter()
    ping = session.pipeline.call("PING")
    info = session.pipeline.call("INFO", "memory")
    try:
        await ping
        elapsed = time.perf_counter() - started
        fields = parse_info(await info)
    except REDIS_FAILURES as exc:
        mark_retrieved((ping, info))
        link.report_error(exc, session.generation)
        return None
    return ProbeResult(
        response_time_s=elapsed,
        used_memory_bytes=_int(fields.get("used_memory")),
        used_memory_human=fields.get("used_memory_human"),
        maxmemory_bytes=_int(fields.get("maxmemory")),
    )
