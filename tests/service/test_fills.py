"""The fill guard: a reply older than a change to its key is never kept."""

from __future__ import annotations

import pytest

from service.cache.fills import FillGuard


def test_a_fill_with_no_change_meanwhile_is_kept() -> None:
    guard = FillGuard()
    began = guard.begin("ns:k")
    guard.changed("ns:other")
    assert guard.end("ns:k", began) is True


def test_a_change_to_the_key_during_the_fill_refuses_it() -> None:
    guard = FillGuard()
    began = guard.begin("ns:k")
    guard.changed("ns:k")
    assert guard.end("ns:k", began) is False
    # The next fill, begun after the change, is kept again.
    assert guard.end("ns:k", guard.begin("ns:k")) is True


def test_a_change_before_the_fill_began_does_not_refuse_it() -> None:
    guard = FillGuard()
    guard.changed("ns:k")
    assert guard.end("ns:k", guard.begin("ns:k")) is True


def test_a_flush_or_reconnect_refuses_every_fill_in_flight() -> None:
    guard = FillGuard()
    first, second = guard.begin("ns:a"), guard.begin("ns:b")
    guard.changed_all()
    assert (guard.end("ns:a", first), guard.end("ns:b", second)) == (False, False)


def test_concurrent_fills_of_one_key_each_judged_by_their_start() -> None:
    guard = FillGuard()
    early = guard.begin("ns:k")
    guard.changed("ns:k")
    late = guard.begin("ns:k")
    assert guard.end("ns:k", late) is True
    assert guard.end("ns:k", early) is False
    # Nothing is remembered once no fill is in flight.
    assert guard._in_flight == {} and guard._changed_at == {}


def test_a_batch_with_no_change_meanwhile_keeps_every_fill_and_leaves_nothing_behind() -> None:
    guard = FillGuard()
    names = ["ns:a", "ns:b", "ns:c"]
    began = guard.begin_many(names)
    guard.changed("ns:other")
    assert guard.end_many(names, began) == []
    assert (guard._in_flight, guard._changed_at) == ({}, {})


def test_a_batch_refuses_exactly_the_fills_a_change_overtook() -> None:
    guard = FillGuard()
    names = ["ns:a", "ns:b", "ns:c"]
    began = guard.begin_many(names)
    guard.changed("ns:b")
    assert guard.end_many(names, began) == ["ns:b"]
    assert (guard._in_flight, guard._changed_at) == ({}, {})
    began = guard.begin_many(names)
    guard.changed_all()
    assert guard.end_many(names, began) == names


def test_a_batch_and_single_fills_of_the_same_keys_each_judged_by_their_start() -> None:
    guard = FillGuard()
    single = guard.begin("ns:b")
    guard.changed("ns:b")  # before the batch began: only the single fill is overtaken
    began = guard.begin_many(["ns:a", "ns:b"])
    later = guard.begin("ns:a")
    assert guard.end_many(["ns:a", "ns:b"], began) == []
    assert guard.end("ns:b", single) is False
    guard.changed("ns:a")
    assert guard.end("ns:a", later) is False
    assert (guard._in_flight, guard._changed_at) == ({}, {})


def test_a_batch_names_each_key_once() -> None:
    with pytest.raises(ValueError):
        FillGuard().begin_many(["ns:a", "ns:a"])
