"""Held tag invalidations (service.cache.unconfirmed, service.cache.tags),
without servers: the record's master confirms one, a reconnect applies
what is held again before `ready` (and holds it again), a refused replay
deletes the record, and an overflow holds every record of the namespace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.cache.outbox import PUT
from service.cache.unconfirmed import Unconfirmed
from service.link.session import OptionalCommand
from statemachine.clock import FakeClock
from tests.support.held_cache import held_cache


def _held(max_keys: int = 100) -> Unconfirmed:
    return Unconfirmed(max_keys, FakeClock().monotonic, lambda name: f"p:{name}", required=True)


class _Redis:
    """Records what a reconnect sends; INVALIDATE answers `invalidate`."""

    def __init__(self, invalidate: object = 7) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self._invalidate = invalidate

    async def send(self, commands: Sequence[Any]) -> list[Any]:
        replies: list[Any] = []
        for command in commands:
            args = tuple(command.args if isinstance(command, OptionalCommand) else command)
            self.sent.append(args)
            replies.append([b"0", []] if args[0] == "SCAN" else
                           self._invalidate if args[0] == "EVAL" else 1)
        return replies


def test_an_invalidation_is_confirmed_by_its_record_s_master() -> None:
    held = _held()
    held.hold("ns", "t", PUT)  # a value whose key is on another master
    held.hold_tag("ns", "t")
    records = lambda redis_key: redis_key.startswith("p:~tag:")  # noqa: E731
    assert held.confirmed(held.mark(), records) == 1
    assert list(held._held) == ["ns:t"]


async def test_a_reconnect_applies_held_invalidations_first_and_holds_them_again() -> None:
    held = _held()
    cache = held_cache(held)
    held.hold_tag("ns", "cand:42")
    redis = _Redis()
    await cache.reconnected(redis.send, first_connect=False)
    assert [args[3] for args in redis.sent] == ["p:~tag:ns:cand:42"]  # EVAL INVALIDATE
    assert cache.outbox is not None and not cache.outbox.tags
    assert list(held._held) == ["~tag:ns:cand:42"]  # the new master has no replica yet


async def test_an_invalidation_refused_at_a_reconnect_deletes_its_record() -> None:
    held = _held()
    cache = held_cache(held)
    held.hold_tag("ns", "t")
    redis = _Redis(invalidate=None)  # an error reply (OOM, say)
    await cache.reconnected(redis.send, first_connect=False)
    assert [args[0] for args in redis.sent] == ["EVAL", "DEL"]
    assert redis.sent[1] == ("DEL", "p:~tag:ns:t")


async def test_overflowed_invalidations_sweep_every_record_of_the_namespace() -> None:
    held = _held(max_keys=2)
    cache = held_cache(held)
    for tag in ("a", "b", "c"):
        held.hold_tag("ns", tag)
    assert held.overflows == 1 and set(held._sweep) == {"~tag:ns"}
    redis = _Redis()
    await cache.reconnected(redis.send, first_connect=False)
    scans = [args for args in redis.sent if args[0] == "SCAN"]
    assert [args[3] for args in scans] == ["p:~tag:ns:*"]
    assert set(held._sweep) == {"~tag:ns"}  # swept on the new master: held again
