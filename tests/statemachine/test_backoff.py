"""BackoffPolicy: the delays of the contract, the limit, and validation."""

from __future__ import annotations

import math

import pytest

from statemachine import BackoffPolicy


def test_default_delays_double_then_cap_at_ten() -> None:
    policy = BackoffPolicy()
    assert [policy.delay_for(n) for n in range(1, 13)] == [
        1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0,
    ]  # fmt: skip


def test_huge_attempt_numbers_stay_at_the_cap() -> None:
    assert BackoffPolicy().delay_for(100_000) == 10.0
    assert BackoffPolicy(factor=1.0, base_s=3.0).delay_for(100_000) == 3.0


def test_custom_policy_values() -> None:
    policy = BackoffPolicy(base_s=0.5, factor=3.0, cap_s=4.0, max_attempts=2)
    assert [policy.delay_for(n) for n in (1, 2, 3)] == [0.5, 1.5, 4.0]
    assert not policy.exhausted(1)
    assert policy.exhausted(2) and policy.exhausted(3)


def test_exhausted_after_ten_failed_attempts_by_default() -> None:
    policy = BackoffPolicy()
    assert [policy.exhausted(n) for n in (0, 9, 10, 11)] == [False, False, True, True]
    assert policy.probe_interval_s == 5.0


def test_attempts_are_numbered_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        BackoffPolicy().delay_for(0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_s": 0},
        {"base_s": -1.0},
        {"cap_s": 0},
        {"probe_interval_s": 0},
        {"probe_interval_s": math.nan},
        {"factor": 0.5},
        {"max_attempts": 0},
    ],
)
def test_invalid_policies_are_refused(kwargs: dict[str, float]) -> None:
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        BackoffPolicy(**kwargs)  # type: ignore[arg-type]


def test_policy_is_immutable() -> None:
    policy = BackoffPolicy()
    with pytest.raises(AttributeError):
        policy.cap_s = 1.0  # type: ignore[misc]
