"""One worker process of the Python load generator (used when wrk is missing).

    python -m scripts.benchmark.pyload BASE_URL WORKLOAD.json --connections N
        --duration S --start-at MONOTONIC [--offset K]

Opens N keep-alive HTTP/1.1 connections and keeps exactly one request in
flight on each, for S seconds from the given monotonic instant. The client
is a bare asyncio Protocol (no aiohttp client, no per-request coroutine) so
that one worker can drive tens of thousands of requests per second. It
prints one `BENCH_JSON {...}` line: every latency in microseconds and the
answers by class.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from urllib.parse import urlsplit

from scripts.benchmark import emit

# How long after the end a request may still take before it counts as a timeout.
STRAGGLER_S = 5.0


def render(spec: dict[str, str], host: str) -> bytes:
    body = base64.b64decode(spec["body"])
    lines = [f"{spec['method']} {spec['path']} HTTP/1.1", f"Host: {host}"]
    if spec.get("content_type"):
        lines.append(f"Content-Type: {spec['content_type']}")
    if body or spec["method"] in ("PUT", "POST"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Tally:
    """What every connection of this worker saw."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.latencies_us: list[int] = []
        self.s2xx = self.s404 = self.sother = self.errors = 0
        self.open = 0
        self.done = asyncio.get_running_loop().create_future()

    def answer(self, status: int, latency_s: float) -> None:
        self.latencies_us.append(int(latency_s * 1e6))
        if 200 <= status < 300:
            self.s2xx += 1
        elif status == 404:
            self.s404 += 1
        else:
            self.sother += 1

    def closed(self) -> None:
        self.open -= 1
        if self.open == 0 and not self.done.done():
            self.done.set_result(None)


class Connection(asyncio.Protocol):
    """One connection, one request in flight, responses parsed by Content-Length."""

    def __init__(self, tally: Tally, requests: list[bytes], offset: int) -> None:
        self.tally = tally
        self.requests = requests
        self.index = offset
        self.buffer = b""
        self.sent_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.send()

    def send(self) -> None:
        assert self.transport is not None
        if time.monotonic() >= self.tally.deadline:
            self.transport.close()
            return
        self.index += 1
        self.sent_at = time.perf_counter()
        self.transport.write(self.requests[self.index % len(self.requests)])

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (parsed := self.parse()) is not None:
            status, used = parsed
            self.buffer = self.buffer[used:]
            self.tally.answer(status, time.perf_counter() - self.sent_at)
            self.send()

    def parse(self) -> tuple[int, int] | None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = self.buffer[:end].lower()
        length = 0
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            line_end = head.find(b"\r\n", at + 2)
            length = int(head[at + 17: line_end if line_end > 0 else None])
        if len(self.buffer) < end + 4 + length:
            return None
        return int(self.buffer[9:12]), end + 4 + length

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None or time.monotonic() < self.tally.deadline:
            self.tally.errors += 1
        self.tally.closed()


async def run(args: argparse.Namespace, requests: list[bytes]) -> dict[str, object]:
    target = urlsplit(args.base_url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    await asyncio.sleep(max(0.0, args.start_at - time.monotonic()))
    started = time.monotonic()
    tally = Tally(started + args.duration)
    connections = await _connect(tally, requests, host, port, args)
    try:
        wait_s = max(0.0, tally.deadline - time.monotonic()) + STRAGGLER_S
        await asyncio.wait_for(asyncio.shield(tally.done), wait_s)
    except TimeoutError:
        # Requests still unanswered this long after the end count as timeouts.
        for connection in connections:
            if connection.transport is not None and not connection.transport.is_closing():
                tally.errors += 1
                connection.transport.abort()
    return {"duration_s": time.monotonic() - started, "latencies_us": tally.latencies_us,
            "s2xx": tally.s2xx, "s404": tally.s404, "sother": tally.sother,
            "errors": tally.errors}


async def _connect(tally: Tally, requests: list[bytes], host: str, port: int,
                   args: argparse.Namespace) -> list[Connection]:
    loop = asyncio.get_running_loop()
    connections: list[Connection] = []
    for index in range(args.connections):
        connection = Connection(tally, requests, args.offset + index * 31)
        tally.open += 1
        try:
            await loop.create_connection(lambda c=connection: c, host, port)  # type: ignore[misc]
        except OSError:
            tally.errors += 1
            tally.closed()
            continue
        connections.append(connection)
    return connections


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("workload")
    parser.add_argument("--connections", type=int, default=25)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--start-at", type=float, default=0.0)
    parser.add_argument("--offset", type=int, default=0)
    args = parser.parse_args(argv)
    target = urlsplit(args.base_url)
    with open(args.workload) as file:
        requests = [render(spec, target.netloc) for spec in json.load(file)]
    result = asyncio.run(run(args, requests))
    return emit(result)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
