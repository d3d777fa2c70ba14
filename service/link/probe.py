"""One bounded look at Redis: PING round-trip time and three INFO sections.

Used by /health/detailed and /metrics, through one SharedProbe per process
(a result is reused for a second). The commands share one pipelined
round trip with the command timeout, so a hung Redis costs a probe at most
REDIS_COMMAND_TIMEOUT_MS; when the link is not ready it costs nothing.

PING alone decides whether Redis is healthy. INFO is optional: a Redis user
whose ACL refuses it gets null figures, not an unhealthy check and not a
counted error, so the probe never contradicts the state machine.

What the INFO sections are for: `memory` gives used memory, maxmemory and
the maxmemory-policy (whether a full Redis evicts or refuses writes),
`stats` the keys evicted so far, `keyspace` how many keys have a TTL (the
volatile-* policies evict only those). One INFO per section rather than
`INFO memory stats keyspace`: several sections in one INFO need Redis 7.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from service.link.interface import Link
from service.link.session import OptionalCommand

SECTIONS = ("memory", "stats", "keyspace")


@dataclass(frozen=True, slots=True)
class ProbeResult:
    response_time_s: float
    used_memory_bytes: int | None
    used_memory_human: str | None
    maxmemory_bytes: int | None
    maxmemory_policy: str | None = None
    evicted_keys: int | None = None
    # Keys with a TTL over all databases (maxmemory is per server, not per database).
    expiring_keys: int | None = None


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
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


def expiring_keys(raw: bytes | str | None) -> int | None:
    """The `expires=` counts of INFO keyspace's `db<N>` lines, summed; None
    without the section (an empty server's section has no db lines: 0)."""
    if raw is None:
        return None
    total = 0
    for name, value in parse_info(raw).items():
        if name.startswith("db"):
            counts = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
            total += _int(counts.get("expires")) or 0
    return total


async def probe(link: Link, timeout_s: float) -> ProbeResult | None:
    """None when the link is not ready or Redis did not answer in time.

    A lazy link that never connected is woken and given `timeout_s` to do so,
    so the first health check after start-up shows the real state."""
    await link.first_connect(timeout_s)
    started = time.perf_counter()
    replies = await link.execute((
        ("PING",), *(OptionalCommand(("INFO", section)) for section in SECTIONS)
    ))
    if replies is None:
        return None
    elapsed = time.perf_counter() - started
    memory, stats = parse_info(replies[1]), parse_info(replies[2])
    return ProbeResult(
        response_time_s=elapsed,
        used_memory_bytes=_int(memory.get("used_memory")),
        used_memory_human=memory.get("used_memory_human"),
        maxmemory_bytes=_int(memory.get("maxmemory")),
        maxmemory_policy=memory.get("maxmemory_policy"),
        evicted_keys=_int(stats.get("evicted_keys")),
        expiring_keys=expiring_keys(replies[3]),
    )


class SharedProbe:
    """One probe's result shared for `max_age_s` (REDIS_PROBE_SHARE_MS) by
    every caller in the process (/metrics, /health/detailed), one probe in
    flight at a time, and with workers by every worker of the instance
    through `shared_file` (in the workers' private directory): N scrapes a
    second cost Redis one PING + INFO round trip a second.

    Only a ready link's result is shared: when the link is not ready a probe
    costs Redis nothing, and a healthy result kept from before a drop must
    not outlive it. Ages are real time (time.time(), as the file is read by
    other processes): a test's FakeClock standing still would keep a result
    for ever.
    """

    def __init__(self, link: Link, timeout_s: float, max_age_s: float = 1.0,
                 shared_file: Path | None = None) -> None:
        self._link = link
        self._timeout_s = timeout_s
        self._max_age_s = max_age_s
        self._file = shared_file
        self._last: ProbeResult | None = None
        self._at = -math.inf
        self._running: asyncio.Future[ProbeResult | None] | None = None

    async def result(self) -> ProbeResult | None:
        if not self._link.is_ready():
            return await probe(self._link, self._timeout_s)
        if self._last is None or time.time() - self._at >= self._max_age_s:
            self._read_shared()
        if self._last is not None and time.time() - self._at < self._max_age_s:
            return self._last
        running = self._running
        if running is None:
            running = self._running = asyncio.ensure_future(self._probe())
        # Shielded: a caller that gives up does not cancel the others' probe.
        return await asyncio.shield(running)

    async def _probe(self) -> ProbeResult | None:
        try:
            result = await probe(self._link, self._timeout_s)
        finally:
            self._running = None
        self._last, self._at = result, time.time()
        if result is not None:
            self._write_shared(result)
        return result

    def _read_shared(self) -> None:
        """A sibling worker's result, if it is fresher than this one's."""
        if self._file is None:
            return
        try:
            document = json.loads(self._file.read_bytes())
            at, result = float(document["at"]), ProbeResult(**document["result"])
        except (OSError, ValueError, TypeError, KeyError):
            return  # none yet, or half a write: probe
        if at > self._at:
            self._last, self._at = result, at

    def _write_shared(self, result: ProbeResult) -> None:
        if self._file is None:
            return
        staged = self._file.with_name(f".{self._file.name}.{os.getpid()}")
        try:
            staged.write_text(json.dumps({"at": self._at, "result": asdict(result)}))
            os.replace(staged, self._file)  # readers see the old file or the new one
        except OSError:
            pass  # the siblings probe for themselves
