"""The callers of the stampede section (stampede.py), as one process.

    python -m scripts.benchmark.herd URL_A URL_B --callers N --compute-ms MS --rounds R

Per round, on a fresh key each time, caller i asking instance i mod 2:

    lease  GET ?lease=1 ─► 200 (hit-fill, hit-memory, hit-redis): has the value
                        ─► 404 + token: computes (sleeps MS), has the value,
                           PUTs it with X-Cache-Lease: <token>
                        ─► 404 pending: sleeps Retry-After s, asks again
    plain  GET          ─► 200: has the value; 404: computes, has it, PUTs it

Prints every caller's outcome as one `emit()` line (stampede.py sums it up).
Method: docs/performance.md, "Stampede: leases".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

from scripts.benchmark import emit

NAMESPACE = "default"
LEASE_HEADER = "X-Cache-Lease"
# Longest a scenario may take: the lease wait (5 s by default) and a retry or two.
SCENARIO_LIMIT_S = 30.0


@dataclass
class Outcome:
    """One caller: which instance, how it got the value and when (ms from t0)."""

    instance: int
    how: str = "error"  # computed, hit-fill, hit-memory, hit-redis, error
    ms: float | None = None
    retries: int = 0
    asked_ms: float | None = None  # its first GET began
    first_answer_ms: float | None = None  # its first answer read (a holder's: the token)
    put_status: int | None = None
    put_done_ms: float | None = None
    right_value: bool = False
    error: str | None = None


def value_for(key: str) -> bytes:
    """What every caller computes for `key` (the same, as a real computation would)."""
    return json.dumps({"computed_for": key, "score": 87}).encode()


class Herd:
    def __init__(self, session: aiohttp.ClientSession, urls: list[str], compute_s: float) -> None:
        self.session, self.urls, self.compute_s = session, urls, compute_s

    async def fill_pool(self, callers: int) -> None:
        async def one(index: int) -> None:
            async with self.session.get(self.urls[index % len(self.urls)] + "/health") as answer:
                await answer.read()

        await asyncio.gather(*(one(i) for i in range(callers)))

    async def caller(self, index: int, key: str, lease: bool, t0: float) -> Outcome:
        outcome = Outcome(instance=index % len(self.urls))
        url = f"{self.urls[outcome.instance]}/cache/{NAMESPACE}/{key}"
        try:
            await self._ask(outcome, url, key, lease, t0)
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome.how, outcome.error = "error", f"{type(exc).__name__}: {exc}"
        return outcome

    async def _ask(self, outcome: Outcome, url: str, key: str, lease: bool, t0: float) -> None:
        outcome.asked_ms = (time.perf_counter() - t0) * 1000
        while True:
            async with self.session.get(url + ("?lease=1" if lease else "")) as answer:
                body = await answer.read()
                status, headers = answer.status, answer.headers
            if outcome.first_answer_ms is None:
                outcome.first_answer_ms = (time.perf_counter() - t0) * 1000
            if status == 200:
                outcome.ms = (time.perf_counter() - t0) * 1000
                outcome.how = headers.get("X-Cache", "?")
                outcome.right_value = body == value_for(key)
                return
            token = headers.get(LEASE_HEADER)
            if status != 404 or (lease and token is None):
                outcome.error = f"GET answered {status}, {LEASE_HEADER}: {token}"
                return
            if token != "pending":
                break
            outcome.retries += 1
            await asyncio.sleep(float(headers.get("Retry-After", "1")))
        await asyncio.sleep(self.compute_s)  # the expensive work
        outcome.ms = (time.perf_counter() - t0) * 1000
        outcome.how, outcome.right_value = "computed", True
        put_headers = {"Content-Type": "application/json"}
        if lease:
            put_headers[LEASE_HEADER] = token or ""
        async with self.session.put(url, data=value_for(key), headers=put_headers) as answer:
            await answer.read()
            outcome.put_status = answer.status
        outcome.put_done_ms = (time.perf_counter() - t0) * 1000

    async def scenario(self, callers: int, key: str, lease: bool) -> list[dict[str, Any]]:
        await self.fill_pool(callers)
        t0 = time.perf_counter()
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(self.caller(i, key, lease, t0) for i in range(callers))),
            SCENARIO_LIMIT_S)
        return [asdict(o) for o in outcomes]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=SCENARIO_LIMIT_S)
    rounds = []
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        herd = Herd(session, args.urls, args.compute_ms / 1000)
        for index in range(args.rounds):
            keys = {mode: f"stampede-r{index}-{mode}" for mode in ("lease", "plain")}
            rounds.append({
                mode: {"key": keys[mode],
                       "callers": await herd.scenario(args.callers, keys[mode], mode == "lease")}
                for mode in ("lease", "plain")
            })
    return {"client": f"aiohttp {aiohttp.__version__} ClientSession, one asyncio loop",
            "rounds": rounds}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("urls", nargs="+")
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--compute-ms", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    return emit(asyncio.run(run(parser.parse_args(argv))))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
