"""What scripts/bench asks of the operating system for the processes it
starts: a parent-death signal (a child dies with the bench even when the
bench is killed outright), CPU placement (Linux affinity: with two or more
CPUs the HTTP server under test gets the first CPU to itself and the rest
share the others, since a single-threaded server moved between the cores it
shared with wrk made runs differ by a third), and the command line and
environment of a helper module run from this checkout.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PR_SET_PDEATHSIG = 1
CPUs = frozenset[int] | None


def child_setup(cpus: CPUs) -> Callable[[], None]:
    """What a child runs before exec: SIGKILL when the bench dies, stay on `cpus`."""

    def setup() -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: close() stops it
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


@dataclass(frozen=True)
class Placement:
    """Which CPUs the servers under test get, and which everything else gets."""

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


def module_argv(module: str, *args: str) -> list[str]:
    """`python -m scripts.benchmark.<module> ...`: run it with `module_env()`."""
    return [sys.executable, "-m", f"scripts.benchmark.{module}", *args]


def module_env(*first: Path) -> dict[str, str]:
    """This environment with `first`, then this checkout, ahead on PYTHONPATH."""
    inherited = os.environ.get("PYTHONPATH", "")
    path = [str(p) for p in (*first, ROOT)] + ([inherited] if inherited else [])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
