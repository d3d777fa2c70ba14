"""What scripts/bench asks of the operating system for the processes it starts.

A parent-death signal, so a child dies with the bench even when the bench is
killed outright; and CPU placement (Linux affinity), so the server under
test has a CPU of its own.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the bench dies."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: Processes.close() still stops it on a normal exit


CPUs = frozenset[int] | None


def child_setup(cpus: CPUs) -> Callable[[], None]:
    """What a child runs before exec: die with the bench, stay on `cpus`."""

    def setup() -> None:
        die_with_parent()
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


@dataclass(frozen=True)
class Placement:
    """Which CPUs the servers under test get, and which everything else gets.

    With two or more CPUs the HTTP server under test (the service or a
    baseline, one at a time under load) gets the first CPU to itself, and
    redis-server, the load generator and the bench share the rest: on a
    2-core machine, letting the scheduler move a single-threaded server
    between cores it shares with wrk made runs differ by a third.
    """

    servers: CPUs = None
    others: CPUs = None

    @classmethod
    def choose(cls, pin: bool) -> Placement:
        cpus = sorted(os.sched_getaffinity(0))
        if not pin or len(cpus) < 2:
            return cls()
        return cls(frozenset(cpus[:1]), frozenset(cpus[1:]))

    def describe(self) -> str:
        if self.servers is None or self.others is None:
            return "not pinned"
        return (f"server under test on CPU {','.join(map(str, sorted(self.servers)))}; "
                f"redis-server and load generator on CPU {','.join(map(str, sorted(self.others)))}")
