"""The fault schedule: Redis killed and restarted, or paused and resumed.

    plan_faults (seeded) ─► [Fault(at, kind, hold_s)]
    run_faults: at t0 + at: kill (SIGKILL) | pause (SIGSTOP)
                hold_s later: start again on the same port | resume (SIGCONT)
                then at least GAP_S of a healthy Redis before the next fault

The kinds alternate (the first one drawn from the seed), so every run of a
few faults has both a crash and a hang. The healthy gap is long enough for
both instances to reconnect in between (with the soak's backoff, capped at
200 ms, they do in well under a second), so every fault starts from a fleet
that has been ready for a while: the checks after it mean something. The
run's first LEAD_S and last TAIL_S are fault-free.

A killed server starts again with its AOF (appendfsync always), so what it
acknowledged survives the crash: a restart loses no write, and a stale read
after it is the fleet's doing, not Redis's.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from scripts.harness.redis_server import RedisServer

__all__ = ["Fault", "Injected", "plan_faults", "run_faults"]

KINDS = ("kill", "pause")
LEAD_S = 2.0
TAIL_S = 2.0
HOLD_S = (0.5, 1.5)  # how long Redis stays down or hung
GAP_S = (2.0, 3.0)  # healthy time after each fault


@dataclass(frozen=True, slots=True)
class Fault:
    at: float  # seconds after the load's start
    kind: str  # "kill" or "pause"
    hold_s: float


@dataclass(frozen=True, slots=True)
class Injected:
    """A fault as it happened, on time.monotonic()."""

    fault: Fault
    broken_at: float
    restored_at: float  # Redis answering again (restarted or resumed)


def plan_faults(duration_s: float, rng: random.Random) -> list[Fault]:
    """As many faults as fit between the lead and the tail, from the seed."""
    faults: list[Fault] = []
    kind = rng.randrange(len(KINDS))
    at = LEAD_S
    while True:
        hold, gap = rng.uniform(*HOLD_S), rng.uniform(*GAP_S)
        if at + hold + TAIL_S > duration_s:
            return faults
        faults.append(Fault(round(at, 3), KINDS[kind], round(hold, 3)))
        at += hold + gap
        kind = (kind + 1) % len(KINDS)


async def run_faults(server: RedisServer, faults: Sequence[Fault], t0: float) -> list[Injected]:
    """Inject `faults` into `server`; returns when the last one is undone.

    The harness's calls block (a start waits for the log's "Ready"), so they
    run in a thread: the load goes on meanwhile. Cancelled mid-fault, the
    caller's clean-up kills the server anyway, paused or not.
    """
    done: list[Injected] = []
    for fault in faults:
        await _sleep_until(t0 + fault.at)
        broken_at = time.monotonic()
        await asyncio.to_thread(server.kill if fault.kind == "kill" else server.pause)
        await _sleep_until(broken_at + fault.hold_s)
        await asyncio.to_thread(server.start if fault.kind == "kill" else server.resume)
        done.append(Injected(fault, broken_at, time.monotonic()))
    return done


async def _sleep_until(moment: float) -> None:
    await asyncio.sleep(max(0.0, moment - time.monotonic()))
