"""One soak: the load and the faults side by side, then the journals, then
the checks.

    plan (seeded) ─► t0 ─► run_load ‖ run_faults ─► every op answered
                 ─► each instance's /health/events ─► check_journal, ready_windows
                 ─► check_history ─► Outcome

The load's plan and the fault schedule come from separate generators seeded
from the one seed, so `--no-faults` runs the same operations as a faulty
run with that seed.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from scripts.soak.faults import Injected, plan_faults, run_faults
from scripts.soak.fleet import Fleet
from scripts.soak.history import DEFAULT_SETTLE_S, Op, Violation, Window, check_history
from scripts.soak.journal import check_journal, parse_journal, ready_windows
from scripts.soak.load import plan_load, run_load
from scripts.soak.restarts import (
    Restarted,
    down_windows,
    earlier_lives,
    plan_restarts,
    run_restarts,
)

__all__ = ["Outcome", "SoakSettings", "soak"]

START_DELAY_S = 0.2  # planning done, first op sent this long after t0 is fixed


@dataclass(frozen=True)
class SoakSettings:
    duration_s: float
    rate: float = 200.0
    keys: int = 20
    seed: int = 1
    instances: int = 2
    faults: bool = True
    settle_s: float = DEFAULT_SETTLE_S
    # Instead of plain Redis faults: instance restarts in Redis outages.
    restarts: bool = False


@dataclass
class Outcome:
    """Everything a run saw; times on time.monotonic(), `t0` the load's start."""

    settings: SoakSettings
    t0: float
    finished: float
    ops: list[Op]
    injected: list[Injected]
    windows: dict[str, list[Window]]
    journal_events: dict[str, int]
    violations: list[Violation] = field(default_factory=list)


async def soak(fleet: Fleet, settings: SoakSettings) -> Outcome:
    """Run the load and the faults against `fleet`, then check the history."""
    plan = plan_load(settings.duration_s, settings.rate, settings.keys, fleet.names,
                     random.Random(f"{settings.seed}-load"))
    faults = (plan_faults(settings.duration_s, random.Random(f"{settings.seed}-faults"))
              if settings.faults and not settings.restarts else [])
    restarts = (plan_restarts(settings.duration_s, fleet.names,
                              random.Random(f"{settings.seed}-restarts"))
                if settings.faults and settings.restarts else [])
    t0 = time.monotonic() + START_DELAY_S
    # A TaskGroup, not gather: cancelled (Ctrl-C), it waits until both have
    # finished their clean-up (the load closes its HTTP sessions).
    async with asyncio.TaskGroup() as group:
        load = group.create_task(run_load(fleet.urls, plan, t0))
        faulting = group.create_task(run_faults(fleet.redis, faults, t0))
        restarting = group.create_task(run_restarts(fleet, restarts, t0))
    restarted = restarting.result()
    injected = sorted([*faulting.result(), *(r.injected for r in restarted)],
                      key=lambda i: i.broken_at)
    return check(fleet, settings, t0, load.result(), injected, restarted)


def check(fleet: Fleet, settings: SoakSettings, t0: float, ops: list[Op],
          injected: list[Injected], restarted: Sequence[Restarted] = ()) -> Outcome:
    """Read every journal (each after the last op ended) and run the checkers."""
    violations: list[Violation] = []
    windows: dict[str, list[Window]] = {}
    counts: dict[str, int] = {}
    for name in fleet.names:
        events, dropped = parse_journal(fleet.journal(name))
        read_at = time.monotonic()
        violations += check_journal(name, events, dropped=dropped, origin=t0)
        earlier, windows[name], counts[name] = earlier_lives(restarted, name, t0)
        violations += earlier
        windows[name] += ready_windows(events, until=read_at)
        counts[name] += len(events)
    violations += check_history(ops, windows, settle_s=settings.settle_s, origin=t0,
                                down=down_windows(restarted))
    return Outcome(settings, t0, time.monotonic(), ops, injected, windows, counts,
                   sorted(violations, key=lambda v: v.at))
