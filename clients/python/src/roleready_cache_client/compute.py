"""get_or_compute as one flow of steps, driven by the sync and the async client.

    GET ?lease=1&wait_ms=W
      200 (a hit, a stale one too) ─► the value; with X-Cache-Lease (this
          caller refreshes it: stale, or near its end) a background refresh:
          compute ─► PUT with the token
      404 + X-Cache-Lease: <token> ─► compute ─► PUT with the token ─► the value
          compute raised ─► DELETE .../lease (a waiter takes over) ─► raise
          PUT 409 stale_lease (the key moved on) or 503 ─► the computed value, unstored
      404 + X-Cache-Lease: pending (W ran out) ─► again, until `give_up_s`
          (W = 0: 50 ms apart)
      404 without X-Cache-Lease (a service without leases) ─► compute ─► plain PUT
      503 overloaded ─► sleep Retry-After ─► again, until `give_up_s`
      past `give_up_s` ─► compute here, store nothing

The service waits for the holder (woken by its PUT, fleet-wide), and hands
the lease to a waiter when the holder's lease runs out, so the client only
loops. While Redis is down the service leases per instance and answers
without errors: nothing here raises because of Redis.

The flow is a generator of steps: a Call (the driver sends it and sends back
the raw Answer), COMPUTE (the driver calls the caller's function and sends
back its value, or throws its exception in), Sleep, and Background (the
driver runs another flow without waiting for it).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Final

from roleready_cache_client.errors import CacheError, Overloaded, StaleLease, Unavailable, error_for
from roleready_cache_client.protocol import Answer, Call, Protocol, entry_from, is_miss
from roleready_cache_client.results import Entry
from roleready_cache_client.values import encode

# With wait_ms=0 the service answers `pending` at once: pause between asks.
PENDING_PAUSE_S = 0.05


class ComputeStep:
    """Call the caller's compute function."""


COMPUTE: Final = ComputeStep()


@dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclass(frozen=True, slots=True)
class Background:
    flow: Generator[Any, Any, Any]


Step = Call[Any] | ComputeStep | Sleep | Background
Flow = Generator[Step, Any, Entry]


@dataclass(frozen=True, slots=True)
class Done:
    entry: Entry


def advance(flow: Flow, reply: Any, error: BaseException | None) -> Step | Done:
    """The flow's next step, given the last step's reply or error (a driver's
    loop: `while not isinstance(step := advance(...), Done)`)."""
    try:
        return flow.throw(error) if error is not None else flow.send(reply)
    except StopIteration as done:
        return Done(done.value)


@dataclass(frozen=True, slots=True)
class Plan:
    """One get_or_compute's parameters."""

    key: str
    ttl_ms: int | None
    content_type: str | None
    wait_ms: int | None
    give_up_s: float


def get_or_compute(protocol: Protocol, plan: Plan, clock: Callable[[], float]) -> Flow:
    deadline = clock() + plan.give_up_s
    while True:
        answer: Answer = yield protocol.leased_get(plan.key, plan.wait_ms)
        if answer.status == 200:
            entry = entry_from(plan.key, answer)
            if entry.refresh_lease is not None:
                yield Background(fill(protocol, plan, entry.refresh_lease))
            return entry
        token = answer.headers.get("x-cache-lease")
        if is_miss(answer) and token != "pending":
            # A miss without a lease (a service that hands out none): a plain PUT.
            return (yield from fill(protocol, plan, token))
        pause = PENDING_PAUSE_S if plan.wait_ms == 0 else 0.0  # wait_ms=0: no busy loop
        if not is_miss(answer):  # only a busy instance is waited for; the rest raise
            error = error_for(answer.status, answer.headers, answer.body)
            if not isinstance(error, Overloaded):
                raise error
            pause = error.retry_after
        left = deadline - clock()
        if left <= 0:
            return (yield from computed_here(plan))
        if pause:
            yield Sleep(min(pause, left))


def fill(protocol: Protocol, plan: Plan, token: str | None) -> Flow:
    """Compute under the lease (also a stale value's background refresh) and
    store with its token; give the lease back when computing fails."""
    try:
        computed = yield from computed_here(plan)
    except BaseException:
        if token is not None:
            try:
                yield protocol.release_lease(plan.key, token)
            except CacheError:
                pass  # the lease runs out on its own
        raise
    answer: Answer = yield protocol.put(plan.key, computed.value, content_type=computed.content_type,
                                        ttl_ms=plan.ttl_ms, lease=token)
    if answer.status == 204:
        return computed
    error = error_for(answer.status, answer.headers, answer.body)
    if isinstance(error, StaleLease | Unavailable):
        # The key moved on (a write or delete came after the lease), or the
        # value could not be kept: the computed value is still this caller's answer.
        return computed
    raise error


def computed_here(plan: Plan) -> Flow:
    """The caller's compute(), as an Entry (a value that is neither bytes nor str raises)."""
    value = yield COMPUTE
    body, content_type = encode(value, plan.content_type)
    return Entry(plan.key, body, content_type, "computed")
