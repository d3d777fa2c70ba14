"""The outbox kept in CACHE_STATE_DIR: a process that dies owes, through its
file, exactly what its outbox owed, replayed by the next one under the same
CACHE_OUTAGE_REPLAY rules; what was applied or settled leaves the file.

One process's death is simulated by closing its file without removing it
(the kernel drops the lock as it would); the replay's commands are captured
by a fake `send`. No servers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from service.cache.codec import decode, new_stamp
from service.cache.durable_outbox import DurableOutbox, open_outbox
from service.cache.memory import MemoryTier
from service.cache.outbox import DELETE, PUT
from service.cache.redis_tier import RedisTier
from service.cache.stats import CacheStats
from service.link.interface import Link
from service.link.session import OptionalCommand
from statemachine.clock import FakeClock

TTL_MS = 60_000


def _process(tmp_path: Path, clock: FakeClock) -> tuple[MemoryTier, RedisTier]:
    memory = MemoryTier(100, 1 << 20, 600, clock.monotonic)
    redis = RedisTier(cast(Link, None), "p", 0, CacheStats(), clock.wall)
    return memory, redis


async def _start(tmp_path: Path, clock: FakeClock, mode: str
                 ) -> tuple[DurableOutbox, MemoryTier, RedisTier]:
    memory, redis = _process(tmp_path, clock)
    outbox = await open_outbox(str(tmp_path), 100, memory, mode, clock.wall)
    assert isinstance(outbox, DurableOutbox)
    return outbox, memory, redis


def _die(outbox: DurableOutbox) -> None:
    os.close(outbox.state._fd)


async def _replayed(outbox: DurableOutbox, memory: MemoryTier, redis: RedisTier,
                    mode: str) -> list[list[Any]]:
    sent: list[list[Any]] = []

    async def send(batch: Sequence[Any]) -> list[Any]:
        # A replayed SET comes as a RefusableWrite (an OptionalCommand).
        commands = [list(c.args if isinstance(c, OptionalCommand) else c) for c in batch]
        sent.extend(commands)
        return [(b"0", []) if command[0] == "SCAN" else 1 for command in commands]

    await outbox.replay(send, redis, memory, mode)
    return sent


async def test_a_dead_process_s_outage_put_is_written_by_the_next_under_write(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    first, memory, _ = await _start(tmp_path, clock, "write")
    stamp = new_stamp(clock.wall(), TTL_MS)
    memory.put("default", "k", b"new", "text/plain", TTL_MS, stamp=stamp)
    first.record("default", "k", PUT)
    first.record("default", "gone", DELETE)
    await first.persisted()
    _die(first)
    clock.advance(10)
    second, memory2, redis2 = await _start(tmp_path, clock, "write")
    assert second.restored_keys == 2 and len(second) == 2
    assert memory2.get("default", "k") is not None  # held again, as the dead one held it
    sent = await _replayed(second, memory2, redis2, "write")
    (set_k,) = [c for c in sent if c[0] == "SET"]
    assert set_k[1] == "p:default:k" and decode(set_k[2]) == (b"new", "text/plain", stamp)
    assert 0 < set_k[4] <= TTL_MS - 10_000  # what remained of its TTL
    assert ["DEL", "p:default:gone"] in sent
    assert len(second) == 0
    # Applied: the file holds nothing any more; closed, it goes.
    assert second.state.path.read_bytes().count(b"\n") == 1  # the header line only
    await second.close()
    assert list(tmp_path.iterdir()) == []


async def test_under_delete_a_dead_process_s_put_is_deleted_and_carries_no_value(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    first, memory, _ = await _start(tmp_path, clock, "delete")
    memory.put("default", "k", b"secret-ish", "text/plain", TTL_MS,
               stamp=new_stamp(clock.wall(), TTL_MS))
    first.record("default", "k", PUT)
    await first.persisted()
    assert b"secret-ish" not in first.state.path.read_bytes()
    _die(first)
    second, memory2, redis2 = await _start(tmp_path, clock, "delete")
    assert memory2.get("default", "k") is None
    assert await _replayed(second, memory2, redis2, "delete") == [["DEL", "p:default:k"]]


async def test_a_settled_or_expired_write_is_not_replayed_over_a_newer_value(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    first, memory, _ = await _start(tmp_path, clock, "write")
    for key in ("settled", "expired"):
        memory.put("default", key, b"v", "text/plain", 1_000,
                   stamp=new_stamp(clock.wall(), 1_000))
        first.record("default", key, PUT)
    first.settle("default", "settled")  # a later PUT reached Redis
    await first.persisted()
    _die(first)
    clock.advance(5)  # past the expired one's TTL
    second, memory2, redis2 = await _start(tmp_path, clock, "write")
    assert await _replayed(second, memory2, redis2, "write") == [["DEL", "p:default:expired"]]


async def test_a_purge_survives_and_two_dead_processes_owing_one_key_delete_it(
    tmp_path: Path,
) -> None:
    """Two processes alive at once (two workers) both owe k; both die."""
    clock = FakeClock()
    workers = [await _start(tmp_path, clock, "write") for _ in range(2)]
    for (worker, memory, _), value in zip(workers, (b"one", b"two"), strict=True):
        memory.put("default", "k", value, "text/plain", TTL_MS,
                   stamp=new_stamp(clock.wall(), TTL_MS))
        worker.record("default", "k", PUT)
        worker.purge("ats_score")
        await worker.persisted()
    assert workers[1][0].restored_keys == 0  # the first was alive: not taken over
    for worker, _, _ in workers:
        _die(worker)
    survivor, memory2, redis2 = await _start(tmp_path, clock, "write")
    sent = await _replayed(survivor, memory2, redis2, "write")
    assert sent[0] == ["DEL", "p:default:k"]  # which came last cannot be known
    assert ["SCAN", b"0", "MATCH", "p:ats_score:*", "COUNT", 1000] in sent


async def test_a_later_process_s_own_write_wins_over_what_it_took_over(tmp_path: Path) -> None:
    """One process after the other: the second takes the first's file over
    at start, then writes the key itself; its own, later write is replayed."""
    clock = FakeClock()
    for value in (b"one", b"two"):
        dead, memory, _ = await _start(tmp_path, clock, "write")
        memory.put("default", "k", value, "text/plain", TTL_MS,
                   stamp=new_stamp(clock.wall(), TTL_MS))
        dead.record("default", "k", PUT)
        await dead.persisted()
        _die(dead)
    survivor, memory2, redis2 = await _start(tmp_path, clock, "write")
    (set_k,) = await _replayed(survivor, memory2, redis2, "write")
    assert decode(set_k[2])[0] == b"two"
