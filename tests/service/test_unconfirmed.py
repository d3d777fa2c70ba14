"""The held writes (service.cache.unconfirmed) and the offsets' way of the
confirmer, without servers: what a confirmation covers, what a reconnect
replays, and what an overflow turns into."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.cache.outbox import DELETE, PUT, Outbox
from service.cache.unconfirmed import Unconfirmed
from service.link.confirmer import _Master, _offset_mark
from statemachine.clock import FakeClock
from tests.support.held_cache import held_cache


def _held(max_keys: int = 100, clock: FakeClock | None = None) -> Unconfirmed:
    clock = clock or FakeClock()
    return Unconfirmed(max_keys, clock.monotonic, lambda name: f"p:{name}", required=True)


def test_a_confirmation_covers_exactly_the_writes_held_before_its_mark() -> None:
    held = _held()
    held.hold("ns", "a", PUT)
    held.hold("ns", "b", DELETE)
    mark = held.mark()
    held.hold("ns", "c", PUT)  # its reply came after the heartbeat was sent
    assert held.confirmed(mark) == 2
    assert len(held) == 1 and held.confirmed_total == 2


def test_a_key_written_again_is_held_for_its_latest_write() -> None:
    held = _held()
    held.hold("ns", "a", PUT)
    mark = held.mark()
    held.hold("ns", "a", DELETE)
    assert held.confirmed(mark) == 0  # the later DELETE is not covered
    outbox = Outbox(100)
    assert held.adopt(outbox) == 1
    assert outbox._ops["ns:a"][0] == DELETE


def test_a_cluster_master_confirms_only_its_own_keys() -> None:
    held = _held()
    for key in ("a1", "b1", "a2"):
        held.hold("ns", key, PUT)
    assert held.confirmed(held.mark(), lambda redis_key: redis_key.startswith("p:ns:a")) == 2
    outbox = Outbox(100)
    assert held.adopt(outbox, lambda redis_key: redis_key.endswith("a1")) == 0
    assert held.adopt(outbox) == 1 and list(outbox._ops) == ["ns:b1"]


def test_a_write_that_missed_redis_is_the_outbox_s_not_held() -> None:
    held = _held()
    held.hold("ns", "a", PUT)
    held.drop("ns", "a")
    assert len(held) == 0


def test_overflow_holds_namespaces_until_a_confirmation_covers_them() -> None:
    clock = FakeClock()
    held = _held(max_keys=2, clock=clock)
    held.hold("one", "a", PUT)
    clock.advance(5)
    held.hold("one", "b", PUT)
    held.hold("two", "c", PUT)  # the third key: the namespaces count now
    assert held.overflows == 1 and len(held) == 2
    assert held.oldest_age_s() == 5
    mark = held.mark()
    held.hold("three", "d", DELETE)
    held.swept_through(mark)
    assert len(held) == 1  # "three" was written after the mark
    outbox = Outbox(100)
    assert held.adopt(outbox) == 1 and len(held) == 0
    assert outbox._purged == {"three"}


def test_settling_all_empties_it_and_its_age() -> None:
    held = _held()
    held.hold("ns", "a", PUT)
    held.hold_namespace("other")
    held.settle_all()
    assert len(held) == 0 and held.oldest_age_s() is None


def _info(master_offset: int, *replica_offsets: int) -> dict[str, str]:
    info = {"role": "master", "master_repl_offset": str(master_offset)}
    for i, offset in enumerate(replica_offsets):
        info[f"slave{i}"] = f"ip=127.0.0.1,port=1,state=online,offset={offset},lag=0"
    return info


def test_offsets_confirm_a_mark_once_a_replica_reaches_the_offset_read_after_it() -> None:
    master = _Master()
    assert _offset_mark(master, _info(100, 40), 1) is None
    assert _offset_mark(master, _info(150, 99), 2) is None  # 99 < 100: mark 1 not yet
    assert _offset_mark(master, _info(200, 100), 3) == 1
    assert _offset_mark(master, _info(200, 200), 4) == 4  # in step: everything so far
    assert _offset_mark(master, {"role": "master"}, 5) is None  # INFO refused


async def _send(commands: Sequence[Sequence[Any]]) -> list[Any]:
    """Redis's answers: a SCAN finds nothing more, anything else is done."""
    return [[b"0", []] if command[0] == "SCAN" else 1 for command in commands]


async def test_a_reconnect_replays_what_is_held_and_holds_what_it_replayed() -> None:
    """The replay's DELs are writes to the new master: if it dies before a
    replica has them, the next master must get them again."""
    held = _held()
    cache = held_cache(held)
    held.hold("ns", "acknowledged", PUT)
    assert cache.outbox is not None
    cache.outbox.record("ns", "outage", DELETE)
    cache.outbox.purge("gone")
    report = await cache.reconnected(_send, first_connect=False)
    assert report is not None and report.keys == 2 and report.unconfirmed == 1
    assert len(cache.outbox) == 0
    assert set(held._held) == {"ns:acknowledged", "ns:outage"} and set(held._sweep) == {"gone"}
    again = await cache.reconnected(_send, first_connect=False)  # that master died too
    assert again is not None and again.unconfirmed == 3


async def test_writes_settled_on_reply_hold_nothing_at_a_reconnect() -> None:
    held = _held()
    held.required = False
    cache = held_cache(held)
    assert cache.outbox is not None
    cache.outbox.record("ns", "outage", DELETE)
    await cache.reconnected(_send, first_connect=False)
    assert len(held) == 0
