"""The process's byte budget (service.byte_budget), without a server: what a
take may hold, what is refused, and a Hold giving back all it took, once."""

from __future__ import annotations

from service.byte_budget import ByteBudget, Hold


def test_takes_fit_within_the_limit_and_refusals_are_counted() -> None:
    refusals: list[int] = []
    budget = ByteBudget(10, refused=lambda: refusals.append(1))
    assert budget.take(6) and budget.take(4)
    assert not budget.take(1) and budget.held == 10
    assert len(refusals) == 1


def test_with_nothing_held_one_request_larger_than_the_limit_passes_alone() -> None:
    budget = ByteBudget(10)
    assert budget.take(25) and budget.held == 25
    assert not budget.take(0) and not budget.take(1)


def test_a_request_that_declares_nothing_needs_a_byte_left() -> None:
    budget = ByteBudget(10)
    assert budget.take(0)  # nothing held
    assert budget.take(9) and budget.take(0)  # a byte left
    assert budget.take(1) and not budget.take(0)  # none left


def test_a_hold_gives_back_everything_it_took_once() -> None:
    budget = ByteBudget(10)
    first, second = Hold(budget), Hold(budget)
    assert first.take(4) and first.take(2) and second.take(3)
    assert not second.take(2)  # refused: the hold keeps what it had
    assert (first.size, second.size, budget.held) == (6, 3, 9)
    first.release()
    first.release()  # again: nothing more to give
    assert budget.held == 3
    second.release()
    assert budget.held == 0
