"""The chaos soak's fleet (scripts/soak/fleet.py) stops its instances the way
an operator's SIGTERM would: gracefully.

The fleet used to block SIGINT, SIGTERM and SIGHUP while it started its
processes (so that an interrupt could not land between a fork and the
record of the child). A child inherits the signal mask across exec: every
service it started ignored SIGTERM, and each close waited its 5 s timeout
and then SIGKILLed it, 10 s of every two-instance run, and no run ever
stopped an instance gracefully.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from scripts.soak.fleet import INTERRUPTS, Fleet

pytestmark = pytest.mark.redis


def _blocked(pid: int) -> set[signal.Signals]:
    """The signals the process `pid` blocks (/proc's SigBlk bit mask)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigBlk:"):
            mask = int(line.split()[1], 16)
            return {s for s in signal.Signals if mask >> (s.value - 1) & 1}
    raise AssertionError("no SigBlk line")


def test_the_instances_take_sigterm_and_stop_gracefully(tmp_path: Path) -> None:
    with Fleet(tmp_path, 1) as fleet:
        process = fleet.services["a"].process
        assert process is not None
        assert not _blocked(process.pid) & INTERRUPTS
        assert not _blocked(fleet.redis.pid or 0) & INTERRUPTS
    assert process.returncode == 0  # its own SIGTERM handling, not -9
