"""The outbox's bookkeeping and replay plan, with a recording `send` in place
of Redis (what Redis does with the commands is tested in
tests/integration/test_outage_replay.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from redis.exceptions import OutOfMemoryError

from service.cache import codec
from service.cache.memory import MemoryTier
from service.cache.outbox import DELETE, PUT, Outbox
from service.cache.redis_tier import RedisTier
from service.cache.stats import CacheStats
from service.link.session import OptionalCommand
from statemachine.clock import FakeClock

REDIS = RedisTier(None, "rr", 0, CacheStats(), FakeClock().wall)  # type: ignore[arg-type]  # only names commands


class Recorder:
    """Records each command (an OptionalCommand's own); answers 1, or what
    `answer(command)` says."""

    def __init__(self, on_first: Any = None, answer: Any = None) -> None:
        self.sent: list[list[Any]] = []
        self._on_first = on_first
        self._answer = answer or (lambda command: 1)

    async def __call__(self, commands: Sequence[Any]) -> list[Any]:
        if self._on_first is not None and not self.sent:
            self._on_first()  # a request writes while the replay awaits Redis
        sent = [list(c.args if isinstance(c, OptionalCommand) else c) for c in commands]
        self.sent += sent
        return [self._answer(command) for command in sent]


def _memory() -> tuple[MemoryTier, FakeClock]:
    clock = FakeClock()
    return MemoryTier(100, 1 << 20, 600.0, clock.monotonic), clock


async def test_the_last_operation_per_key_is_replayed_once() -> None:
    outbox = Outbox(10)
    outbox.record("ns", "k", PUT)
    outbox.record("ns", "k", DELETE)
    outbox.record("ns", "j", PUT)
    send = Recorder()
    report = await outbox.replay(send, REDIS, _memory()[0], "delete")
    assert report is not None and (report.keys, report.swept_namespaces) == (2, ())
    assert send.sent == [["DEL", "rr:ns:k"], ["DEL", "rr:ns:j"]]
    assert len(outbox) == 0 and await outbox.replay(send, REDIS, _memory()[0], "delete") is None


async def test_writes_made_during_the_replay_are_replayed_before_it_ends() -> None:
    outbox = Outbox(10)
    outbox.record("ns", "k", PUT)
    send = Recorder(on_first=lambda: outbox.record("ns", "late", DELETE))
    report = await outbox.replay(send, REDIS, _memory()[0], "delete")
    assert report is not None and report.keys == 2
    assert ["DEL", "rr:ns:late"] in send.sent and len(outbox) == 0


async def test_write_mode_sets_the_held_value_with_its_remaining_ttl_and_stamp() -> None:
    memory, clock = _memory()
    stamp = codec.new_stamp(clock.wall(), 10_000)  # the outage PUT's: its version survives
    memory.put("ns", "k", b"v", "text/plain", 10_000, stamp=stamp)
    clock.advance(4.0)
    outbox = Outbox(10)
    outbox.record("ns", "k", PUT)
    outbox.record("ns", "gone", PUT)  # no longer held: deleted instead
    send = Recorder()
    await outbox.replay(send, REDIS, memory, "write")
    assert send.sent == [
        ["SET", "rr:ns:k", codec.encode(b"v", "text/plain", stamp), "PX", 6000],
        ["DEL", "rr:ns:gone"],
    ]


async def test_a_write_redis_refuses_for_lack_of_memory_is_deleted_instead() -> None:
    memory, clock = _memory()
    for key in ("full", "fits"):
        memory.put("ns", key, b"v", "text/plain", 10_000)
    outbox = Outbox(10)
    outbox.record("ns", "full", PUT)
    outbox.record("ns", "fits", PUT)
    applied: list[tuple[str, str]] = []
    refuse = OutOfMemoryError("command not allowed when used memory > 'maxmemory'.")
    send = Recorder(answer=lambda command: refuse if command[1] == "rr:ns:full" else b"OK")
    report = await outbox.replay(send, REDIS, memory, "write",
                                 applied=lambda name, op: applied.append((name, op)))
    assert [command[:2] for command in send.sent] == [
        ["SET", "rr:ns:full"], ["SET", "rr:ns:fits"], ["DEL", "rr:ns:full"]]
    assert report is not None and (report.keys, report.refused) == (2, 1)
    # What Redis carried out: a DEL for the refused one (a replica confirms that).
    assert applied == [("ns:full", DELETE), ("ns:fits", PUT)]
    assert len(outbox) == 0


async def test_an_overflow_sweeps_every_namespace_written() -> None:
    outbox = Outbox(2)
    outbox.record("a", "1", PUT)
    outbox.record("b", "1", PUT)
    outbox.record("a", "2", PUT)  # over the bound
    outbox.record("c", "1", DELETE)  # after it, only the namespace counts
    assert (len(outbox), outbox.overflows) == (0, 1)

    scans: list[str] = []

    async def send(commands: Sequence[Sequence[Any]]) -> list[Any]:
        command = list(commands[0])
        if command[0] == "SCAN":
            scans.append(command[3])
            return [[b"0", [b"rr:x:1"]]]
        return [1]

    report = await outbox.replay(send, REDIS, _memory()[0], "delete")
    assert report is not None and report.swept_namespaces == ("a", "b", "c")
    assert scans == ["rr:a:*", "rr:b:*", "rr:c:*"] and report.swept_keys == 3


async def test_a_later_operation_that_reached_redis_settles_the_key() -> None:
    outbox = Outbox(10)
    outbox.record("ns", "k", PUT)
    outbox.settle("ns", "k")
    assert len(outbox) == 0


async def test_a_cluster_master_replays_only_its_own_keys() -> None:
    outbox = Outbox(10)
    for key in ("mine1", "theirs", "mine2"):
        outbox.record("ns", key, PUT)
    send = Recorder()
    report = await outbox.replay(send, REDIS, _memory()[0], "delete",
                                 owns=lambda redis_key: ":mine" in redis_key)
    assert report is not None and report.keys == 2
    assert send.sent == [["DEL", "rr:ns:mine1"], ["DEL", "rr:ns:mine2"]]
    assert len(outbox) == 1  # the other master's key waits for that master
    assert await outbox.replay(send, REDIS, _memory()[0], "delete",
                               owns=lambda redis_key: ":mine" in redis_key) is None


async def test_an_overflow_is_settled_by_the_last_master_back() -> None:
    outbox = Outbox(1)
    outbox.record("a", "1", PUT)
    outbox.record("a", "2", PUT)  # over the bound: namespace a is swept
    found = [b"rr:a:1", b"rr:a:2"]

    async def send(commands: Sequence[Sequence[Any]]) -> list[Any]:
        if commands[0][0] == "SCAN":
            return [[b"0", found]]
        assert all(len(command) == 2 for command in commands)  # DEL key by key
        return [1 for _ in commands]

    first = await outbox.replay(send, REDIS, _memory()[0], "delete", others_ready=False)
    assert first is not None and (first.swept_namespaces, first.swept_keys) == (("a",), 2)
    last = await outbox.replay(send, REDIS, _memory()[0], "delete", others_ready=True)
    assert last is not None and last.swept_namespaces == ("a",)
    assert await outbox.replay(send, REDIS, _memory()[0], "delete") is None
