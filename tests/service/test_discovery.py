"""service.link.discovery: the master of the sentinels' newest configuration,
not the first answer (a sentinel that has not heard of a failover yet names
the demoted master, which still accepts writes)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio.sentinel import MasterNotFoundError, Sentinel
from redis.exceptions import ConnectionError as RedisConnectionError

from service.link.discovery import GRACE_S, newest_master

NAME = "cachemaster"


class FakeSentinel:
    """Answers SENTINEL MASTERS after `delay_s` (or fails with `error`)."""

    def __init__(self, port: int, epoch: int, delay_s: float = 0.0,
                 error: Exception | None = None, flags: str = "master") -> None:
        self.port, self.epoch, self.delay_s, self.error, self.flags = port, epoch, delay_s, error, flags

    async def sentinel_masters(self) -> dict[str, Any]:
        await asyncio.sleep(self.delay_s)
        if self.error is not None:
            raise self.error
        flags = set(self.flags.split(","))
        return {NAME: {"ip": "127.0.0.1", "port": self.port, "config-epoch": self.epoch,
                       "flags": self.flags, "num-other-sentinels": 2,
                       "is_master": "master" in flags, "is_sdown": "s_down" in flags,
                       "is_odown": "o_down" in flags}}


def _sentinel(*fakes: FakeSentinel) -> Sentinel:
    sentinel = Sentinel([])
    sentinel.sentinels = list(fakes)  # type: ignore[arg-type]
    return sentinel


async def test_the_newest_configuration_wins_over_the_first_answer() -> None:
    stale = FakeSentinel(6001, epoch=1)  # answers first, names the demoted master
    fresh = FakeSentinel(6002, epoch=2, delay_s=0.02)
    down = FakeSentinel(0, 0, error=RedisConnectionError("refused"))
    assert await newest_master(_sentinel(stale, down, fresh), NAME) == ("127.0.0.1", 6002)


async def test_a_hung_sentinel_costs_only_the_grace() -> None:
    hung = FakeSentinel(6003, epoch=9, delay_s=30)
    started = time.monotonic()
    found = await newest_master(_sentinel(FakeSentinel(6001, epoch=1), hung), NAME)
    assert found == ("127.0.0.1", 6001)
    assert time.monotonic() - started < GRACE_S + 5  # not the hung one's 30 s


async def test_a_master_marked_down_is_not_named() -> None:
    sentinel = _sentinel(FakeSentinel(6001, epoch=3, flags="master,s_down"),
                         FakeSentinel(6002, epoch=2))
    assert await newest_master(sentinel, NAME) == ("127.0.0.1", 6002)


async def test_no_usable_answer_is_the_clear_error_of_redis_py() -> None:
    sentinel = _sentinel(FakeSentinel(0, 0, error=RedisConnectionError("refused")))
    with pytest.raises(MasterNotFoundError, match="No master found for 'cachemaster' : .*ConnectionError"):
        await newest_master(sentinel, NAME)
    with pytest.raises(MasterNotFoundError, match="No master found for 'other'"):
        await newest_master(_sentinel(FakeSentinel(6001, epoch=1)), "other")
