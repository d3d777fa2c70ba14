"""Instance restarts during Redis outages: outage writes outlive the process.

    plan_restarts (seeded) ─► [Restart(at, instance, signal, down_s)]
    run_restarts, for each: at t0 + at Redis is killed
        ─► once the instance's link has left `ready`, its writes go to its
           outbox and its CACHE_STATE_DIR (the fleet gives each its own)
        ─► down_s later its journal is read (the process's own is lost with
           it), then it gets SIGTERM or SIGKILL (they alternate)
        ─► the instance starts again (same port, same state directory)
           while Redis is still down, then Redis starts again (same port,
           AOF): every instance reconnects at about the same time, and the
           restarted one applies the dead process's outage writes before
           its link is `ready`
        ─► at least GAP_S of a healthy fleet before the next

Redis stays down until the instance is back so that the other instances
cannot overwrite, through a ready link, what the stopped one owed: a lost
outage write is then still the key's latest change when every link is
ready again, and the history checker sees it come back (without a state
directory it does: stale reads after each restart).

While an instance is down its requests fail (connection refused): those
are not answered, so nothing was promised; the history checker excuses
transport errors inside each `Restarted.down` window, and nothing else. A
stale read after the restart (a DELETE or PUT acknowledged from memory
before the kill, undone) is caught by the usual checks, since every other
instance reads the key from Redis again.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scripts.soak.faults import Fault, Injected
from scripts.soak.fleet import Fleet
from scripts.soak.history import Violation, Window
from scripts.soak.journal import check_journal, parse_journal, ready_windows

__all__ = ["Restart", "Restarted", "down_windows", "earlier_lives", "plan_restarts",
           "run_restarts"]

LEAD_S = 1.5
TAIL_S = 2.0
DOWN_S = (0.2, 0.6)  # outage writes accepted before the instance stops
GAP_S = (1.5, 2.5)  # healthy time after the instance is back
# A planning figure (a start of the service on a loaded machine); the run
# waits for the real one.
START_S = 2.0
SIGNALS = (signal.SIGTERM, signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class Restart:
    at: float  # seconds after the load's start
    instance: str
    signal: str  # "SIGTERM" or "SIGKILL"
    down_s: float


@dataclass(frozen=True, slots=True)
class Restarted:
    """A restart as it happened (time.monotonic())."""

    injected: Injected
    instance: str
    down: tuple[float, float]  # the instance stopped .. answering again
    journal: dict[str, Any]  # the stopped process's /health/events


def plan_restarts(duration_s: float, instances: Sequence[str],
                  rng: random.Random) -> list[Restart]:
    """As many restarts as fit, instances in turn, the signals alternating."""
    planned: list[Restart] = []
    kind = rng.randrange(len(SIGNALS))
    at = LEAD_S
    while True:
        down, gap = rng.uniform(*DOWN_S), rng.uniform(*GAP_S)
        if at + down + START_S + TAIL_S > duration_s:
            return planned
        instance = instances[len(planned) % len(instances)]
        planned.append(Restart(round(at, 3), instance, SIGNALS[kind].name, round(down, 3)))
        at += down + START_S + gap
        kind = (kind + 1) % len(SIGNALS)


async def run_restarts(fleet: Fleet, restarts: Sequence[Restart], t0: float) -> list[Restarted]:
    """Carry out `restarts`; the harness's blocking calls run in a thread."""
    done: list[Restarted] = []
    healthy_from = t0
    for restart in restarts:
        # A start slower than planned (a loaded machine) must not eat the
        # healthy gap: every instance reconnects before the next outage.
        moment = max(t0 + restart.at, healthy_from + GAP_S[0])
        await asyncio.sleep(max(0.0, moment - time.monotonic()))
        done.append(await asyncio.to_thread(_restart, fleet, restart))
        healthy_from = time.monotonic()
    return done


def _restart(fleet: Fleet, restart: Restart) -> Restarted:
    name = restart.instance
    broken_at = time.monotonic()
    fleet.redis.kill()
    fleet.wait_state(name, lambda state: state != "ready")
    time.sleep(max(0.0, broken_at + restart.down_s - time.monotonic()))
    journal = fleet.journal(name)
    stopped_at = time.monotonic()
    fleet.stop(name, restart.signal)
    fleet.restart(name, ready=False)
    answering_at = time.monotonic()
    fleet.redis.start()
    restored_at = time.monotonic()
    fleet.wait_ready(name)
    fault = Fault(restart.at, f"{restart.signal.lower()} {name}", restart.down_s)
    return Restarted(Injected(fault, broken_at, restored_at), name,
                     (stopped_at, answering_at), journal)


def earlier_lives(restarted: Sequence[Restarted], name: str, origin: float
                  ) -> tuple[list[Violation], list[Window], int]:
    """The instance's stopped processes: their journals checked, their ready
    windows (each closed at its stop) and their event counts."""
    violations: list[Violation] = []
    windows: list[Window] = []
    count = 0
    for life in (r for r in restarted if r.instance == name):
        events, dropped = parse_journal(life.journal)
        violations += check_journal(name, events, dropped=dropped, origin=origin)
        windows += ready_windows(events, until=life.down[0])
        count += len(events)
    return violations, windows, count


def down_windows(restarted: Sequence[Restarted]) -> dict[str, list[Window]]:
    """When each instance was stopped on purpose (for check_history)."""
    down: dict[str, list[Window]] = {}
    for life in restarted:
        down.setdefault(life.instance, []).append(life.down)
    return down
