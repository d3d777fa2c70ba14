"""The leases' Lua scripts: each checks and changes a value and its lease
in one step, so no other client's command falls between the two.

Sent with EVAL, not EVALSHA: Redis caches the compiled script by its body's
SHA1 anyway, and EVAL needs no NOSCRIPT fallback after a restart or a
failover (leases are used on misses, not on the hot path). Every script
answers integers, never nil, so an error reply and an answer never look alike.
The commands they call (PTTL, SET, GET, DEL) are the ones the documented ACL
line already grants; EVAL itself is added there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# A lease key holds "<token>/<seen>": <seen> is what the value was when the
# lease was issued, the SHA1 of its bytes or "-" for none. The holder's
# value is stored only if the value is still that: a plain PUT since then
# changed it (so a PUT needs no lease command of its own, and costs nothing
# more); a DELETE ends the lease itself (RedisTier), since "-" would match.

# KEYS: value, lease. ARGV: token, lease ms.
# {2, 0}: the value exists; {1, 0}: the lease is the caller's; {0, ms}: held.
ACQUIRE = """
if redis.call('PTTL', KEYS[1]) ~= -2 then return {2, 0} end
if redis.call('SET', KEYS[2], ARGV[1] .. '/-', 'NX', 'PX', ARGV[2]) then return {1, 0} end
return {0, redis.call('PTTL', KEYS[2])}
"""

# KEYS: value, lease. ARGV: token, lease ms. A lease to refresh a value that
# is there (stale, or near its end): 1 the caller's, 0 someone else's.
REFRESH = """
local value = redis.call('GET', KEYS[1])
local seen = value and redis.sha1hex(value) or '-'
if redis.call('SET', KEYS[2], ARGV[1] .. '/' .. seen, 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

# KEYS: value, lease. ARGV: token, the stored value, its ms.
# 1: stored and the lease ended; 0: not the caller's lease, or the value
# changed since it was issued (nothing done).
FILL = """
local lease = redis.call('GET', KEYS[2])
if not lease then return 0 end
local slash = string.find(lease, '/', 1, true)
if string.sub(lease, 1, slash - 1) ~= ARGV[1] then return 0 end
local value = redis.call('GET', KEYS[1])
local now = value and redis.sha1hex(value) or '-'
if now ~= string.sub(lease, slash + 1) then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('DEL', KEYS[2])
return 1
"""

# KEYS: lease. ARGV: token. 1: given back; 0: not the caller's lease.
RELEASE = """
local lease = redis.call('GET', KEYS[1])
if not lease or string.sub(lease, 1, string.len(ARGV[1]) + 1) ~= ARGV[1] .. '/' then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
"""


def eval_command(script: str, keys: Sequence[str], args: Sequence[Any]) -> tuple[Any, ...]:
    return ("EVAL", script, len(keys), *keys, *args)
