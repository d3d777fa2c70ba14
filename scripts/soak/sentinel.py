"""The soak's Sentinel mode: a master, a replica and three sentinels, and
repeated failovers while the load runs through every instance.

    one cycle (repeated until the load's last TAIL_S):
      failover  SENTINEL FAILOVER ─► the replica is promoted; the demoted
                master keeps claiming the master role for seconds, so the
                new master has no replica ("the replication window")
      window    WINDOW_KILL_S into that window (the instances have followed
                the switch and write to the new master), while the demoted master is
                still unreconfigured: SIGKILL the new master ─► the sentinels
                promote the demoted one, which never had those writes
      return    the killed one starts again (empty, claiming the master
                role) ─► until the sentinels make it a replica in sync
      kill      SIGKILL the master ─► the sentinels promote that replica
      return    the old master starts again ─► a replica in sync again

The window comes first, so that a short run (the suite's) has it, with
load on the far side of it.

Each step waits for what it caused (a new master named by the sentinels,
a replica in sync), never a fixed time, except the kill inside the window.
Every write the service acknowledged in a window is on a master that then
dies: the history checker (history.py) says whether an older or a deleted
value came back. The servers run without persistence: a node that starts
again is empty until it syncs, as after a disk loss.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from scripts.harness.redis_server import RedisServer
from scripts.harness.sentinel import SentinelSetup, start_sentinel_setup
from scripts.soak.faults import Fault, Injected
from scripts.soak.fleet import Fleet, FleetError
from scripts.soak.load import plan_load, run_load
from scripts.soak.run import Outcome, SoakSettings, check

__all__ = ["Failovers", "SentinelFleet", "render_failovers", "run_failovers", "soak_sentinel",
           "to_json"]

LEAD_S = 2.0  # fault-free start of the load
TAIL_S = 2.0  # no cycle starts this close to the load's end
# How long after the sentinels named the new master it dies (inside the
# replication window, which lasted ~10 s here).
WINDOW_KILL_S = 2.0
# A restarted master is reconfigured as a replica ~20 s after it is back (more
# on a loaded machine).
STEP_TIMEOUT_S = 60.0
POLL_S = 0.05


class SentinelFleet(Fleet):
    """`Fleet` on a Sentinel setup; the instances find the master through it."""

    setup: SentinelSetup

    def _start(self) -> None:
        try:
            self.setup = start_sentinel_setup(self._servers, self.run_dir / "sentinel")
        except (RuntimeError, AssertionError) as exc:
            raise FleetError(f"Sentinel setup: {exc}") from exc
        # The sentinels hear each other's hellos (every 2 s) while the
        # instances start: they ask for the master, which any sentinel names.
        self._start_services(self.setup.env(), meanwhile=self._acquainted)

    def _acquainted(self) -> None:
        try:
            self.setup.wait_until_acquainted()
        except AssertionError as exc:
            raise FleetError(f"Sentinel setup: {exc}") from exc


@dataclass
class Failovers:
    """What the cycles did and saw (times on time.monotonic())."""

    injected: list[Injected] = field(default_factory=list)
    # After SENTINEL FAILOVER: whether the demoted master still claimed the
    # master role when the new master was killed (the kill was inside the window).
    killed_inside_window: list[bool] = field(default_factory=list)
    # A node that came back after a kill: seconds until it was a replica in sync.
    rejoin_s: list[float] = field(default_factory=list)


async def soak_sentinel(fleet: SentinelFleet, settings: SoakSettings) -> tuple[Outcome, Failovers]:
    """The load through every instance while the cycles run; then the checks
    (run.check: every journal, every acknowledged change's history)."""
    plan = plan_load(settings.duration_s, settings.rate, settings.keys, fleet.names,
                     random.Random(f"{settings.seed}-load"))
    t0 = time.monotonic() + 0.2
    async with asyncio.TaskGroup() as group:
        load = group.create_task(run_load(fleet.urls, plan, t0))
        cycles = group.create_task(run_failovers(fleet.setup, t0, settings.duration_s))
    seen = cycles.result()
    return check(fleet, settings, t0, load.result(), seen.injected), seen


async def run_failovers(setup: SentinelSetup, t0: float, duration_s: float) -> Failovers:
    """Cycles of failovers (the module's docstring) until the load ends."""
    seen = Failovers()
    await asyncio.sleep(max(0.0, t0 + LEAD_S - time.monotonic()))
    while time.monotonic() < t0 + duration_s - TAIL_S:
        await asyncio.to_thread(_cycle, setup, t0, t0 + duration_s - TAIL_S, seen)
    return seen


def _cycle(setup: SentinelSetup, t0: float, until: float, seen: Failovers) -> None:
    """One cycle; a step that would start after `until` is not made (the
    fleet is closed after the load anyway)."""
    demoted = _master(setup)
    began = time.monotonic()
    with setup.sentinels[0].client() as sentinel:
        sentinel.execute_command("SENTINEL", "FAILOVER", setup.master_name)
    promoted = _wait_new_master(setup, demoted)
    switched = time.monotonic()
    seen.injected.append(Injected(Fault(round(began - t0, 3), "failover", 0.0), began, switched))
    # The instances follow the announcement and write to the new master.
    time.sleep(WINDOW_KILL_S)
    seen.killed_inside_window.append(_role(demoted) == "master")
    _kill(setup, promoted, "window", t0, seen)
    for step in (lambda: _rejoin(setup, promoted, until, seen),
                 lambda: _kill(setup, demoted, "kill", t0, seen),
                 lambda: _rejoin(setup, demoted, until, seen)):
        if time.monotonic() > until:
            return
        step()


def _kill(setup: SentinelSetup, node: RedisServer, kind: str, t0: float,
          seen: Failovers) -> None:
    """SIGKILL `node` (the master) and wait until the sentinels name another."""
    began = time.monotonic()
    node.kill()
    _wait_new_master(setup, node)
    seen.injected.append(Injected(Fault(round(began - t0, 3), kind, 0.0), began,
                                  time.monotonic()))


def _rejoin(setup: SentinelSetup, node: RedisServer, until: float, seen: Failovers) -> None:
    """Start a killed node again; wait until it is a replica in sync (or
    the load is over: the run ends without it)."""
    began = time.monotonic()
    node.start()
    _wait(lambda: _in_sync(setup, node) or time.monotonic() > until,
          f"{node.port} to rejoin as a replica in sync")
    if _in_sync(setup, node):
        seen.rejoin_s.append(time.monotonic() - began)


def _nodes(setup: SentinelSetup) -> list[RedisServer]:
    return [setup.master, setup.replica]


def _master(setup: SentinelSetup) -> RedisServer:
    """The node the sentinels name as the master now."""
    with setup.sentinels[0].client() as sentinel:
        _, port = sentinel.sentinel_get_master_addr_by_name(setup.master_name)
    return next(node for node in _nodes(setup) if node.port == int(port))


def _wait_new_master(setup: SentinelSetup, old: RedisServer) -> RedisServer:
    def named() -> bool:
        try:
            return _master(setup).port != old.port and _role(_master(setup)) == "master"
        except (redis.RedisError, StopIteration):
            return False

    _wait(named, f"a master other than {old.port}")
    return _master(setup)


def _role(node: RedisServer) -> str:
    try:
        with node.client() as client:
            return str(client.info("replication")["role"])
    except redis.RedisError:
        return "down"


def _in_sync(setup: SentinelSetup, node: RedisServer) -> bool:
    """A replica in sync, and known as a usable one to every sentinel (a
    replica they have not seen yet cannot be promoted)."""
    try:
        with node.client() as client:
            info = client.info("replication")
        if info["role"] != "slave" or info.get("master_link_status") != "up":
            return False
        for sentinel in setup.sentinels:
            with sentinel.client() as client:
                known = client.sentinel_slaves(setup.master_name)
            if not any(int(r["port"]) == node.port and r.get("master-link-status") == "ok"
                       and not r.get("is_sdown") and not r.get("is_disconnected")
                       for r in known):
                return False
    except redis.RedisError:
        return False
    return True


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise FleetError(f"timed out after {STEP_TIMEOUT_S:.0f} s waiting for {what}")
        time.sleep(POLL_S)


def _undone(outcome: Outcome) -> int:
    """Acknowledged changes whose replaced value was read back (each counted once)."""
    return len({(v.detail.split(" ")[1], re.sub(r".*replaced by (.+?\)) before.*", r"\1",
                                                v.detail))
                for v in outcome.violations if v.kind == "stale_read"})


def render_failovers(outcome: Outcome, seen: Failovers) -> str:
    """The Sentinel lines of the report (after report.render's)."""
    kinds = [done.fault.kind for done in seen.injected]
    changes = sum(1 for op in outcome.ops if op.op in ("PUT", "DELETE") and op.acknowledged)
    rejoin = ", ".join(f"{s:.1f}" for s in seen.rejoin_s) or "none"
    return "\n".join([
        f"sentinel: {len(kinds)} failovers survived (master killed {kinds.count('kill')}, "
        f"SENTINEL FAILOVER {kinds.count('failover')}, new master killed inside the "
        f"replication window {kinds.count('window')})",
        f"  the demoted master still claimed the master role at that kill: "
        f"{sum(seen.killed_inside_window)} of {len(seen.killed_inside_window)}",
        f"  a killed node back as a replica in sync after: {rejoin} s",
        f"changes checked: {changes} acknowledged PUTs and DELETEs; "
        f"changes undone: {_undone(outcome)}",
    ])


def to_json(seen: Failovers, outcome: Outcome) -> dict[str, Any]:
    """The `sentinel` part of --json's document."""
    return {**{k: v for k, v in asdict(seen).items() if k != "injected"},
            "undone": _undone(outcome)}
