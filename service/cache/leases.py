"""Leases: one caller computes a missing value, the others wait for it.

    GET ?lease=1, a miss
      ─► acquire: the value exists? ─► read it (it just arrived)
                  no lease? ─► SET lease NX PX ─► token: the caller computes
                  a lease held ─► wait (up to wait_ms) for a change of the key
                  or of its lease, or for the lease to run out; then again
    PUT with X-Cache-Lease: <token>
      ─► stored only while that token is the key's lease and the value is as
         it was when it was issued (one script: check, SET the value, DEL the
         lease); otherwise 409 stale_lease
    PUT without a token ─► the value changed: the lease, which recorded what
         the value was when it was issued, no longer fits (409 for its holder)
    DELETE ─► DEL the lease first (RedisTier): its holder's PUT finds none
    DELETE .../lease with the token ─► the lease given back: a waiter takes over

The lease lives in Redis beside the value it guards, under the value key as
its hash tag (`{prefix}:~lease:{<value key>}`: one slot in a cluster, where
the scripts' two keys must meet), so 100 callers on several instances still
cause one computation. Waiters are woken by the invalidation stream (another
instance's PUT changes the value key; a lease given back or run out changes
the lease key), by this instance's own writes (NOLOOP keeps them off the
stream), and by a timer at the lease's end: never by polling Redis.

While the link is not ready, leases are this process's own (tokens starting
with "m"); a PUT with such a token after recovery is a plain PUT, going
through the outbox rules like any write made in an outage. They are kept in
order of their end (all last CACHE_LEASE_DURATION_MS, so that is the order
they were taken in): each new one drops those that ran out from the front,
amortized constant time however many there are.

Waiters are bounded on their own: at most `max_waiters` in the process and
`max_waiters_per_key` on one key; past either, a miss answers Pending at
once. While it waits, a waiter gives its place in the /cache/ routes' pool
of requests in progress (`pool`, HTTP_MAX_INFLIGHT) back, and takes it again
when it wakes: a thousand waiters on a held lease cannot make a plain GET
answer 503.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, Protocol

from service.cache.lease_scripts import ACQUIRE, FILL, REFRESH, RELEASE, eval_command
from service.cache.stats import LeaseStats
from service.cache.two_tier import Lookup, TwoTierCache, Write
from service.link.interface import Link
from statemachine.clock import Clock

REDIS_TOKEN, MEMORY_TOKEN = "r", "m"
# A value seen in Redis but not read back (it went away in between): look
# again after this long rather than spin.
RECHECK_S = 0.05
DEFAULT_MAX_WAITERS = 512
DEFAULT_MAX_WAITERS_PER_KEY = 128


@dataclass(frozen=True, slots=True)
class Granted:
    token: str


@dataclass(frozen=True, slots=True)
class Filled:
    found: Lookup


@dataclass(frozen=True, slots=True)
class Pending:
    retry_after_s: int


LeaseAnswer = Granted | Filled | Pending


class Refused:
    """The token is not (or no longer) the key's lease."""

    STALE: Final = "stale_lease"


class Pool(Protocol):
    """Requests in progress counted against a limit (the request layer's)."""

    count: int


class Leases:
    def __init__(self, cache: TwoTierCache, link: Link, duration_ms: int,
                 clock: Clock, stats: LeaseStats, *, max_waiters: int = DEFAULT_MAX_WAITERS,
                 max_waiters_per_key: int = DEFAULT_MAX_WAITERS_PER_KEY) -> None:
        self._cache = cache
        self._redis = cache.redis  # None: memory-only, every lease is local
        self._link = link
        self._duration_ms = duration_ms
        self._clock = clock
        self.stats = stats
        # name -> the event its waiters await; replaced once set, dropped
        # when the last caller of `miss` for the name is done (no leak for
        # keys whose lease simply runs out).
        self._signals: dict[str, asyncio.Event] = {}
        self._callers: dict[str, int] = {}
        # Leases of this process while Redis is unavailable: name -> (token,
        # ends at), oldest first.
        self._local: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.max_waiters = max_waiters
        self.max_waiters_per_key = max_waiters_per_key
        self._waiting: dict[str, int] = {}
        self._waiting_total = 0
        # The request layer's pool of /cache/ requests in progress, when served.
        self.pool: Pool | None = None
        cache.on_change = self.changed

    # -- GET ?lease=1 ---------------------------------------------------------

    async def miss(self, namespace: str, key: str, wait_ms: int) -> LeaseAnswer:
        """After a miss: a token, the value once its holder stored it, or
        Pending when `wait_ms` ran out first."""
        name = f"{namespace}:{key}"
        self._callers[name] = self._callers.get(name, 0) + 1
        try:
            return await self._miss(namespace, key, name, wait_ms)
        finally:
            left = self._callers.pop(name) - 1
            if left:
                self._callers[name] = left
            else:
                self._signals.pop(name, None)

    async def _miss(self, namespace: str, key: str, name: str, wait_ms: int) -> LeaseAnswer:
        # The caller's wait is real time, as the timers that end it (the
        # lease's own duration is on the injected clock, as all expiries).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_ms / 1000
        waited = ran_out = False
        while True:
            signal = self._signal(name)  # before looking: no change is missed
            if waited and (found := await self._cache.get(namespace, key)) is not None:
                self.stats.filled += 1
                return Filled(found)
            token, lease_ms = await self._acquire(namespace, key)
            if token is not None:
                self.stats.issued += 1
                self.stats.taken_over += int(waited)
                self.stats.expired += int(ran_out)
                return Granted(token)
            remaining = deadline - loop.time()
            if remaining <= 0:
                return Pending(max(1, math.ceil((lease_ms or 0) / 1000)))
            if not self._room(name):
                self.stats.turned_away += 1
                return Pending(max(1, math.ceil((lease_ms or 0) / 1000)))
            # lease_ms None: the value is there; read it on the next turn.
            until_end = RECHECK_S if lease_ms is None else lease_ms / 1000
            woken = await self._wait(name, signal, min(remaining, until_end))
            waited = True
            ran_out = not woken and lease_ms is not None and until_end <= remaining

    async def _acquire(self, namespace: str, key: str) -> tuple[str | None, int | None]:
        """(a token, None), (None, the lease's remaining ms), or (None, None)
        when the value exists."""
        redis = self._redis
        if redis is not None and self._link.is_ready():
            token = REDIS_TOKEN + secrets.token_urlsafe(18)
            replies = await self._link.execute((eval_command(
                ACQUIRE, (redis.key(namespace, key), redis.lease_key(namespace, key)),
                (token, self._duration_ms)),))
            if replies is not None:
                outcome, remaining_ms = replies[0]
                if outcome == 1:
                    return token, None
                return None, (None if outcome == 2 else max(int(remaining_ms), 1))
        return self._acquire_locally(f"{namespace}:{key}")

    async def refresh(self, namespace: str, key: str) -> str | None:
        """A token to refresh a value that is there (stale, or near the end
        of its TTL) for exactly one caller fleet-wide; None for the others
        (they answer with the value as it is, at once)."""
        redis = self._redis
        if redis is not None and self._link.is_ready():
            token = REDIS_TOKEN + secrets.token_urlsafe(18)
            replies = await self._link.execute((eval_command(
                REFRESH, (redis.key(namespace, key), redis.lease_key(namespace, key)),
                (token, self._duration_ms)),))
            if replies is not None:
                return self._issued(token) if replies[0] == 1 else None
        local, _ = self._acquire_locally(f"{namespace}:{key}")
        return None if local is None else self._issued(local)

    def _issued(self, token: str) -> str:
        self.stats.issued += 1
        return token

    def _acquire_locally(self, name: str) -> tuple[str | None, int | None]:
        now = self._clock.monotonic()
        held = self._local.get(name)
        if held is not None and held[1] > now:
            return None, max(1, int((held[1] - now) * 1000))
        token = MEMORY_TOKEN + secrets.token_urlsafe(18)
        local = self._local
        # Those that ran out are at the front: each is dropped once.
        while local and next(iter(local.values()))[1] <= now:
            local.popitem(last=False)
        local[name] = (token, now + self._duration_ms / 1000)
        local.move_to_end(name)
        return token, None

    def _room(self, name: str) -> bool:
        """May one more caller wait, in the process and on `name`?"""
        return (self._waiting_total < self.max_waiters
                and self._waiting.get(name, 0) < self.max_waiters_per_key)

    async def _wait(self, name: str, signal: asyncio.Event, timeout_s: float) -> bool:
        """Until `signal` (True) or `timeout_s` passed (False), counted
        among the waiters and out of the request pool meanwhile."""
        self.stats.waiters += 1
        self._waiting_total += 1
        self._waiting[name] = self._waiting.get(name, 0) + 1
        pool = self.pool
        if pool is not None:
            pool.count -= 1
        try:
            async with asyncio.timeout(timeout_s):
                await signal.wait()
            return True
        except TimeoutError:
            return False
        finally:
            if pool is not None:
                pool.count += 1
            self.stats.waiters -= 1
            self._waiting_total -= 1
            left = self._waiting.pop(name) - 1
            if left:
                self._waiting[name] = left

    # -- PUT with a token, and giving a lease back ------------------------------

    async def fill(self, namespace: str, key: str, token: str, value: bytes,
                   content_type: str, ttl_ms: int, tags: list[str] | None = None) -> str:
        """The holder's PUT: a Write value, or Refused.STALE (nothing changed)."""
        name = f"{namespace}:{key}"
        cache = self._cache
        if token.startswith(MEMORY_TOKEN):
            # Issued while Redis was away: a plain PUT (outbox rules) if it
            # is still this process's lease.
            if self._local.get(name, ("",))[0] != token:
                return self._refused()
            del self._local[name]
            return await cache.write(namespace, key, value, content_type, ttl_ms, tags)
        redis = self._redis
        if redis is None or not self._link.is_ready():
            return await cache.write(namespace, key, value, content_type, ttl_ms, tags)
        upkeep = await cache.tag_upkeep(namespace, tags) if tags else None
        payload, stamp = cache.stamped(value, content_type, ttl_ms,
                                       upkeep.tagged() if upkeep is not None else ())
        replies = None
        try:  # the tags' ENSUREs, if any, ahead of the script in its batch
            replies = await self._link.execute((*(upkeep.commands if upkeep else ()), eval_command(
                FILL, (redis.key(namespace, key), redis.lease_key(namespace, key)),
                (token, payload, redis.px(namespace, ttl_ms)))))
        finally:
            if upkeep is not None:
                cache.tags_written(upkeep, replies)
        if replies is None:  # unknown whether it landed: as a PUT in an outage
            return await cache.write(namespace, key, value, content_type, ttl_ms, tags)
        if replies[-1] != 1:
            return self._refused()
        cache.remember(namespace, key, value, content_type, ttl_ms, stamp)
        await cache.persisted()  # a settled outage write, on disk before the answer
        return Write.STORED

    async def release(self, namespace: str, key: str, token: str) -> bool:
        """Give the lease back; False when `token` is not the key's lease."""
        name = f"{namespace}:{key}"
        redis = self._redis
        if token.startswith(MEMORY_TOKEN) or redis is None or not self._link.is_ready():
            if self._local.get(name, ("",))[0] != token:
                return False
            del self._local[name]
        else:
            replies = await self._link.execute((eval_command(
                RELEASE, (redis.lease_key(namespace, key),), (token,)),))
            if replies is None or replies[0] != 1:
                return False
        self.stats.released += 1
        self.changed(name)
        return True

    def _refused(self) -> str:
        self.stats.refused += 1
        return Refused.STALE

    # -- changes ------------------------------------------------------------------

    def changed(self, name: str | None) -> None:
        """A key (`namespace:key`) or its lease changed, here or anywhere in
        the fleet (None: everything did): its waiters look again."""
        if name is None:
            signals, self._signals = self._signals, {}
            for waiting in signals.values():
                waiting.set()
            return
        guarded = None if self._redis is None else self._redis.guarded_name(name)
        if guarded is not None:
            name = guarded  # the lease changed: given back, ended or run out
        else:
            self._local.pop(name, None)  # a plain write or delete ends it
        signal = self._signals.pop(name, None)
        if signal is not None:
            signal.set()

    def _signal(self, name: str) -> asyncio.Event:
        signal = self._signals.get(name)
        if signal is None:
            signal = self._signals[name] = asyncio.Event()
        return signal
