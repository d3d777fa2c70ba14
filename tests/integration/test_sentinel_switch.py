"""A master switch announced while a connect attempt is under way, after the
attempt had asked for the master: the link must not stay on the old one.

After SENTINEL FAILOVER the demoted master keeps accepting writes for
seconds; an instance left there writes to it while the others write to the
new master (every read through them misses those writes). Real servers
stand for the two masters; the announcement is made from the factory, as
the sentinels' pub/sub would make it in the middle of the attempt.
"""

from __future__ import annotations

from collections.abc import Callable

from redis.asyncio import Redis

from scripts.harness.redis_server import RedisServers
from service.link.driver import RedisLink
from statemachine.backoff import BackoffPolicy
from statemachine.clock import FakeClock
from statemachine.events import ErrorSeen
from statemachine.lifecycle import ConnectionLifecycle
from tests.support.waiting import eventually


class Announcer:
    """Stands for MasterSwitches: the test announces through it."""

    def __init__(self) -> None:
        self.on_switch: Callable[[str, str], None] | None = None

    def start(self, on_switch: Callable[[str, str], None]) -> None:
        self.on_switch = on_switch

    async def close(self) -> None:
        return None


async def test_an_announcement_heard_during_the_attempt_is_followed(
    redis_servers: RedisServers,
) -> None:
    old, new = redis_servers.start(), redis_servers.start()
    announcer = Announcer()
    asked: list[int] = []

    async def factory() -> Redis:
        # The first attempt asked the sentinels before the failover ended,
        # and the announcement comes while it connects.
        target = old if not asked else new
        asked.append(target.port)
        if len(asked) == 1:
            assert announcer.on_switch is not None
            announcer.on_switch(f"127.0.0.1:{old.port}", f"127.0.0.1:{new.port}")
        return Redis(host="127.0.0.1", port=target.port)

    clock = FakeClock()
    link = RedisLink(
        ConnectionLifecycle(clock, BackoffPolicy()), factory, clock=clock, lazy=False,
        health_check_interval_s=1.0, command_timeout_s=0.5, connect_timeout_s=1.0,
        switches=announcer,  # type: ignore[arg-type]
    )
    await link.start()
    try:
        await eventually(lambda: link.is_ready() and link.address() == f"127.0.0.1:{new.port}",
                         what="ready on the announced master")
        assert asked == [old.port, new.port]
        errors = [e for e in link.lifecycle.journal.events() if isinstance(e, ErrorSeen)]
        assert [e.message for e in errors] == [
            f"master switched: 127.0.0.1:{old.port} -> 127.0.0.1:{new.port}"]
    finally:
        await link.close()
