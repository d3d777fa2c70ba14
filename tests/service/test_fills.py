"""The fill guard: a reply older than a change to its key is never kept."""

from __future__ import annotations

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
