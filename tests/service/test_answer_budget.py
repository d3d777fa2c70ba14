"""The byte budget of a batch answer (service.cache.budget), without a server."""

from __future__ import annotations

from service.cache.budget import AnswerBudget


def test_values_join_while_they_fit_and_the_first_that_does_not_ends_the_answer() -> None:
    budget = AnswerBudget(10)
    assert [budget.takes(size) for size in (4, 6, 1, 0)] == [True, True, False, False]
    assert (budget.left, budget.closed) == (0, True)


def test_an_empty_answer_takes_its_first_value_whatever_its_size() -> None:
    budget = AnswerBudget(10)
    assert budget.takes(0) and budget.empty  # a miss carries no value
    assert budget.takes(25) and not budget.empty
    assert not budget.takes(1) and budget.closed


def test_spent_bytes_count_against_what_is_left() -> None:
    budget = AnswerBudget(10)
    budget.spend(8)
    assert not budget.empty
    assert budget.takes(2) and not budget.takes(1)
