"""What an instance knows of tag records (service/cache/tags.py TagState),
without Redis: the reads of records are a stand-in here, since what is under
test is the bookkeeping around them (Redis's side: tests/integration/test_tags.py)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from service.cache.redis_tier import RedisTier
from service.cache.tag_state import MAX_KNOWN, PENDING, TagState


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


def _state() -> TagState:
    return TagState({"ns": 60_000, "other": 1000}, {"ns": 5000})


async def test_an_entry_is_valid_while_it_saw_each_records_current_value() -> None:
    state, records = _state(), Records({"p:~tag:ns:a": 10})
    redis = cast(RedisTier, records)
    assert not state.valid("ns", (("a", 10),))  # unknown record: not served
    assert await state.learn(redis, "ns", ["a", "b"])
    assert state.seen("ns", ["a", "b"]) == (("a", 10), ("b", 0))
    assert state.valid("ns", (("a", 10), ("b", 0)))
    assert not state.valid("ns", (("a", 9), ("b", 0)))  # written before the invalidation
    assert not state.valid("other", (("a", 10),))  # tags belong to a namespace
    assert await state.learn(redis, "ns", ["a"]) and records.asked == ["p:~tag:ns:a", "p:~tag:ns:b"]
    state.heard("ns:a")  # tracking: the record changed
    assert not state.valid("ns", (("a", 10),)) and state.known("ns", "b") == 0


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
    assert [command[3:] for command in commands] == [["p:~tag:ns:a", 65_000],
                                                     ["p:~tag:ns:b", 65_000]]


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


async def test_a_record_that_goes_missing_is_never_below_what_was_known_of_it() -> None:
    """Evicted by Redis (or expired): reading it as 0 would serve again what
    it invalidated; a record only grows, so what was known stays a floor."""
    state, records = _state(), Records({"p:~tag:ns:a": 10})
    redis = cast(RedisTier, records)
    assert await state.learn(redis, "ns", ["a"])
    del records.values["p:~tag:ns:a"]  # evicted
    state.heard("ns:a")
    assert await state.learn(redis, "ns", ["a"]) and state.known("ns", "a") == 10
    assert not state.valid("ns", (("a", 0),))
    state.forget()  # a reconnect keeps the floor too
    assert await state.learn(redis, "ns", ["a"]) and state.known("ns", "a") == 10
    records.values["p:~tag:ns:a"] = 20  # invalidated again: the record wins
    state.heard("ns:a")
    assert await state.learn(redis, "ns", ["a"]) and state.known("ns", "a") == 20
