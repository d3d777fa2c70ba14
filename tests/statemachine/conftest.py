"""Shared fixtures for the pure state machine tests: a fake clock and
lifecycles already driven into each state (no I/O, no real time)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from statemachine import BackoffPolicy, ConnectionLifecycle, FakeClock
from tests.statemachine.positions import drive_to

MakeLifecycle = Callable[[str], ConnectionLifecycle]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def policy() -> BackoffPolicy:
    return BackoffPolicy()


@pytest.fixture
def lifecycle(clock: FakeClock, policy: BackoffPolicy) -> ConnectionLifecycle:
    return ConnectionLifecycle(clock, policy)


@pytest.fixture
def make_lifecycle(clock: FakeClock, policy: BackoffPolicy) -> MakeLifecycle:
    """Factory: a lifecycle driven to one of POSITIONS."""

    def make(position: str) -> ConnectionLifecycle:
        lc = ConnectionLifecycle(clock, policy)
        drive_to(lc, position)
        expected = position.split("_")[0]
        assert lc.state == expected, f"fixture failed to reach {position}"
        return lc

    return make
