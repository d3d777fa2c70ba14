"""What an instance knows of tag records (service/cache/tags.py TagState),
without Redis: the reads of records are a stand-in here, since what is under
test is the bookkeeping around them (Redis's side: tests/integration/test_tags.py)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from service.cache.redis_tier import RedisTier
from service.cache.tag_state import MAX_KNOWN, MISSING, PENDING, TagState
from statemachine.clock import FakeClock


class Records:
    """Answers GETs of records from a dict, after `gate` opens."""

    def __init__(self, values: dict[str, int]) -> None:
        self.values = values
        self.gate = asyncio.Event()
        self.gate.set()
        self.asked: list[str] = []

    def tag_key(self, namespace: str, tag: str) -> str:
        return f"p:~tag:{namespace}:{tag}"

    async def replies(self, commands: list[list[Any]]) -> list[Any] | None:
        await self.gate.wait()
        self.asked += [key for _, key in commands]
        return [self.values.get(key) for _, key in commands]


def _state(clock: FakeClock | None = None) -> TagState:
    return TagState({"ns": 60_000, "other": 1000}, {"ns": 5000},
                    now=(clock or FakeClock()).monotonic)


async def test_an_entry_is_valid_while_it_saw_each_records_current_value() -> None:
    state, records = _state(), Records({"p:~tag:ns:a": 10, "p:~tag:ns:b": 20})
    redis = cast(RedisTier, records)
    assert not state.valid("ns", (("a", 10),))  # unknown record: not served
    assert await state.learn(redis, "ns", ["a", "b"])
    assert state.seen("ns", ["a", "b"]) == (("a", 10), ("b", 20))
    assert state.valid("ns", (("a", 10), ("b", 20)))
    assert not state.valid("ns", (("a", 9), ("b", 20)))  # written before the invalidation
    assert not state.valid("other", (("a", 10),))  # tags belong to a namespace
    assert await state.learn(redis, "ns", ["a"]) and records.asked == ["p:~tag:ns:a", "p:~tag:ns:b"]
    state.heard("ns:a")  # tracking: the record changed
    assert not state.valid("ns", (("a", 10),)) and state.known("ns", "b") == 20


async def test_a_missing_record_fails_every_entry_carrying_its_tag() -> None:
    """Missing: evicted, maybe after an invalidation. A write always creates
    its records, so no value lives on one that never existed."""
    state, records = _state(), Records({})
    assert await state.learn(cast(RedisTier, records), "ns", ["gone"])
    assert state.known("ns", "gone") == MISSING
    assert not state.valid("ns", (("gone", 0),)) and not state.valid("ns", (("gone", 2**62),))
    assert state.seen("ns", ["gone"]) == (("gone", 0),)  # never stored as a value
    assert state.plan("ns", ["gone"])[1:] == (["gone"], [])  # a write creates it first


async def test_a_record_read_that_a_change_overtook_is_not_kept() -> None:
    state, records = _state(), Records({"p:~tag:ns:a": 10})
    records.gate.clear()
    reading = asyncio.ensure_future(state.learn(cast(RedisTier, records), "ns", ["a"]))
    await asyncio.sleep(0)
    state.heard("ns:a")  # the invalidation's message arrives while the GET is out
    records.gate.set()
    assert await reading
    assert state.unknown("ns", ["a"]) == ["a"]


async def test_a_pending_invalidation_fails_every_entry_and_survives_forgetting() -> None:
    state = _state()
    state.invalidated("ns", ["a"], [PENDING])
    assert not state.valid("ns", (("a", 10**15),))
    assert state.seen("ns", ["a"]) == (("a", 0),)  # written meanwhile: fails too
    state.forget({"ns:a"})
    assert state.known("ns", "a") == PENDING and len(state) == 1
    state.forget()
    assert state.unknown("ns", ["a"]) == ["a"] and len(state) == 0
    assert state.invalidations == 1


def test_the_map_is_bounded_and_keeps_pending_invalidations() -> None:
    state = _state()
    state.invalidated("ns", ["pending"], [PENDING])
    state.invalidated("ns", [f"t{i}" for i in range(MAX_KNOWN)], list(range(MAX_KNOWN)))
    assert len(state) <= MAX_KNOWN
    assert state.known("ns", "pending") == PENDING


def test_invalidation_scripts_expire_after_the_ttl_and_stale_window() -> None:
    state = _state()
    commands = state.commands(cast(RedisTier, Records({})), "ns", ["a", "b"])
    # 2H, H = TTL 60 s + stale 5 s + the 60 s margin; no floor known yet.
    assert [command[3:] for command in commands] == [["p:~tag:ns:a", 250_000, 0],
                                                     ["p:~tag:ns:b", 250_000, 0]]
    state.invalidated("ns", ["a"], [10])  # known: a re-created record passes it
    assert state.commands(cast(RedisTier, Records({})), "ns", ["a"])[0][3:] == [
        "p:~tag:ns:a", 250_000, 11]


def test_without_redis_a_record_never_invalidated_is_zero_and_a_forgotten_one_stays() -> None:
    state = TagState({"ns": 60_000}, {}, memory_only=True)
    assert state.valid("ns", (("never", 0),)) and state.seen("ns", ["never"]) == (("never", 0),)
    state.invalidated("ns", ["a"], [100])
    assert not state.valid("ns", (("a", 0),))
    written_after = state.seen("ns", ["a"])
    state.invalidated("ns", [f"t{i}" for i in range(MAX_KNOWN)], [200] * MAX_KNOWN)  # overflows
    assert state.known("ns", "a") == 200  # forgotten: the floor
    assert not state.valid("ns", written_after)  # a miss, never a value from before
    assert state.valid("ns", state.seen("ns", ["a", "never"]))


async def test_a_record_that_goes_missing_is_missing_and_never_comes_back_below_what_was_known() -> None:
    """Evicted by Redis (or expired): missing, whatever was known of it. A
    record re-created lower (a master whose clock ran back) is read as no
    less than what was known: a record only grows."""
    state, records = _state(), Records({"p:~tag:ns:a": 10})
    redis = cast(RedisTier, records)
    assert await state.learn(redis, "ns", ["a"])
    del records.values["p:~tag:ns:a"]  # evicted
    state.heard("ns:a")
    assert await state.learn(redis, "ns", ["a"]) and state.known("ns", "a") == MISSING
    assert not state.valid("ns", (("a", 10),))
    assert state.floor("ns", "a") == 11  # what a write re-creating it passes
    state.forget()  # a reconnect
    assert await state.learn(redis, "ns", ["a"]) and state.known("ns", "a") == MISSING
    records.values["p:~tag:ns:a"] = 5  # re-created lower
    state.heard("ns:a")
    assert await state.learn(redis, "ns", ["a"]) and state.known("ns", "a") == 10
    # A write stores what the record holds, not the floor: an instance that
    # never knew 10 may invalidate it to 6, and that must cover this write.
    assert state.seen("ns", ["a"]) == (("a", 5),)
    records.values["p:~tag:ns:a"] = 20  # invalidated again: the record wins
    state.heard("ns:a")
    assert await state.learn(redis, "ns", ["a"]) and state.known("ns", "a") == 20


def test_a_write_ensures_what_it_does_not_know_first_and_the_rest_about_once_per_h() -> None:
    """plan(): (seen, ensure first, ensure in the write's batch). H = 125 s here."""
    clock = FakeClock()
    state = _state(clock)
    assert state.plan("ns", ["a", "b"])[1:] == (["a", "b"], [])  # unknown: first
    began = state.begin("ns", ["a", "b"])
    answered = state.ensured("ns", ["a", "b"], began, [[10, 250_000], None])  # b: refused
    assert answered == {"a": 10} and state.known("ns", "a") == 10
    assert state.unknown("ns", ["a", "b"]) == ["b"]
    assert state.plan("ns", ["a"])[1:] == ([], [])  # known to live 250 s: nothing to send
    clock.advance(124.0)
    assert state.plan("ns", ["a"])[1:] == ([], [])
    clock.advance(2.0)  # under H left: its ensure travels with the write
    assert state.plan("ns", ["a"])[1:] == ([], ["a"])
    began = state.begin("ns", ["a"])
    state.heard("ns:a")  # a change overtook the ensure: answered, not kept
    assert state.ensured("ns", ["a"], began, [[12, 250_000]]) == {"a": 12}
    assert state.unknown("ns", ["a"]) == ["a"]
    state.invalidated("ns", ["p"], [PENDING])  # the write fails every check anyway
    assert state.plan("ns", ["p"])[1:] == ([], [])
    state.invalidated("ns", ["i"], [30])  # INVALIDATE set 2H
    assert state.plan("ns", ["i"])[1:] == ([], [])
    began = state.begin("ns", ["n"])
    state.ensured("ns", ["n"], began, [[40, -1]])  # no expiry: lives on
    clock.advance(10**6)
    assert state.plan("ns", ["n"])[1:] == ([], [])
