"""A tagged write keeps its tags' records alive (the design: tags.py).

A record read as absent makes every value carrying its tag a miss (it may
have been evicted after an invalidation), so every tagged write makes sure
its records exist and outlive the value, with ENSURE, one script per record
on the record's own key (records live on other cluster slots than values):

    write with tags ─► per tag, from what this instance knows (TagState.plan):
        unknown, or known missing ─► ENSURE first, one round trip (as the GET
            it replaces); the value stores the R it answers
        known, and known to live H more (H: the namespace's TTL + stale
            window + MARGIN_MS) ─► nothing: the value stores the R known
        known, life not known to last H ─► ENSURE in the write's own batch,
            ahead of the value: no round trip of its own. The value stores
            the R known; should the record have been gone (re-created above
            it), the value is a miss, which is always allowed
    ENSURE ─► present: extended to 2H when it has less than H left
              absent: created at max(Redis TIME in µs, what the writer knew
              of it + 1), PX 2H; both answer [R, PTTL]

An extension is a change of the key: tracking tells every instance, which
reads the record again. Extending to 2H when under H keeps that to about one
per record per H, whatever the writes. Untagged writes do none of this.
Errors (a user without +time, a foreign value) are answered as None and
leave the record as it was: the value is then a miss, never a wrong hit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.cache.codec import Tagged
from service.cache.redis_tier import RedisTier
from service.cache.tag_state import TagState
from service.link.session import OptionalCommand

# KEYS[1]: the record; ARGV[1]: H, ARGV[2]: 2H (ms); ARGV[3]: a value a
# re-created record must reach. Answers {R, PTTL}. Only GET, PTTL, SET and
# TIME: the documented ACL user's commands (no PEXPIRE, no Redis 7 GT).
ENSURE = """
local value = redis.call('GET', KEYS[1])
if value then
  local r = tonumber(value)
  if not r then return redis.error_reply('not a tag record') end
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl >= 0 and pttl < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
    pttl = tonumber(ARGV[2])
  end
  return {r, pttl}
end
local t = redis.call('TIME')
local new = math.max(tonumber(t[1]) * 1000000 + tonumber(t[2]), tonumber(ARGV[3]))
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', ARGV[2])
return {new, tonumber(ARGV[2])}
"""


class Upkeep:
    """What one write (or one batch of writes) of a namespace does for its
    tags: what each value stores, and the ENSUREs sent ahead of it."""

    __slots__ = ("namespace", "seen", "commands", "_tags", "_began")

    def __init__(self, namespace: str, seen: dict[str, int], commands: Sequence[Any] = (),
                 tags: Sequence[str] = (), began: tuple[float, list[int]] = (0.0, [])) -> None:
        self.namespace = namespace
        # tag -> the R a value written now stores for it (in the order asked).
        self.seen = seen
        # ENSUREs to send first in the write's own batch (their replies: `settle`).
        self.commands = commands
        self._tags = tags
        self._began = began

    def tagged(self, tags: Sequence[str] | None = None) -> Tagged:
        """What a value carrying `tags` (each among this upkeep's; all of
        them by default) stores."""
        if tags is None:
            return tuple(self.seen.items())
        return tuple((tag, self.seen[tag]) for tag in tags)

    def settle(self, state: TagState, replies: Sequence[Any] | None) -> None:
        """The write's batch landed (None: it failed, or never went): the
        ENSUREs' replies, at its head, are what is known of those records
        now. Once; later calls do nothing."""
        tags = self._tags
        if tags:
            self._tags, self.commands = (), ()
            state.ensured(self.namespace, tags, self._began,
                          replies[: len(tags)] if replies is not None else None)


def commands(state: TagState, redis: RedisTier, namespace: str, tags: Sequence[str]) -> list[Any]:
    least, px = state.lifetimes_ms(namespace)
    return [OptionalCommand(("EVAL", ENSURE, 1, redis.tag_key(namespace, tag), least, px,
                             state.floor(namespace, tag))) for tag in tags]


async def prepare(state: TagState, redis: RedisTier | None, namespace: str,
                  tags: Sequence[str]) -> Upkeep:
    """The upkeep of a write of values carrying `tags` (distinct), made now:
    the records it must first create or read are ensured here (one round
    trip for all of them, and for any others due with them)."""
    if redis is None:  # memory only: nothing to keep alive
        return Upkeep(namespace, dict(state.seen(namespace, tags)))
    seen, first, later = state.plan(namespace, tags)
    if first:  # one round trip anyway: every due record goes in it
        due = first + later
        began = state.begin(namespace, due)
        replies = None
        try:
            replies = await redis.replies(commands(state, redis, namespace, due))
        finally:
            seen.update(state.ensured(namespace, due, began, replies))
        return Upkeep(namespace, seen)
    if not later:
        return Upkeep(namespace, seen)
    return Upkeep(namespace, seen, commands(state, redis, namespace, later), later,
                  state.begin(namespace, later))


async def put(state: TagState, redis: RedisTier, upkeep: Upkeep, command: Any) -> bool:
    """A value's SET with the upkeep's ENSUREs ahead of it, in one batch:
    True once Redis stored it."""
    replies = await redis.replies([*upkeep.commands, command])
    upkeep.settle(state, replies)
    return replies is not None
