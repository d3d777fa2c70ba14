"""The wrk Lua script scripts/bench generates for a workload.

The requests are formatted once per thread in init(); request() cycles
through them from a per-thread offset (set in setup()). done() prints every
figure as one `BENCH_JSON {...}` line, reading the per-thread status counters
through thread:get() when response() counted them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Request(Protocol):
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def body(self) -> bytes: ...
    @property
    def content_type(self) -> str | None: ...


PROLOGUE = """\
local threads = {}
local formatted = {}
local counter = 0
s2xx, s404, sother = 0, 0, 0

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  for i, spec in ipairs(specs) do
    formatted[i] = wrk.format(spec[1], spec[2], spec[3], spec[4])
  end
  counter = offset or 0
end

function request()
  counter = counter + 1
  return formatted[(counter % #formatted) + 1]
end
"""

COUNT_STATUSES = """
function response(status, headers, body)
  if status >= 200 and status < 300 then
    s2xx = s2xx + 1
  elseif status == 404 then
    s404 = s404 + 1
  else
    sother = sother + 1
  end
end
"""

DONE = """
function done(summary, latency, requests)
  local a, b, c = 0, 0, 0
  for _, thread in ipairs(threads) do
    a = a + (thread:get("s2xx") or 0)
    b = b + (thread:get("s404") or 0)
    c = c + (thread:get("sother") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "status_errors": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d, "s2xx": %d, "s404": %d, "sother": %d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout, a, b, c))
end
"""


def lua_string(data: bytes) -> str:
    """A Lua string literal holding exactly `data` (decimal escapes, no surprises)."""
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 /:._-{},=+"
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in data) + '"'


def _spec(request: Request) -> str:
    headers = "nil"
    if request.content_type is not None:
        headers = "{[" + lua_string(b"Content-Type") + "] = " + lua_string(
            request.content_type.encode("latin-1")) + "}"
    body = lua_string(request.body) if request.body else "nil"
    method = lua_string(request.method.encode())
    return f"  {{{method}, {lua_string(request.path.encode())}, {headers}, {body}}},"


def lua_script(requests: Iterable[Request], *, statuses: bool) -> str:
    specs = "\n".join(_spec(request) for request in requests)
    parts = [f"specs = {{\n{specs}\n}}\n", PROLOGUE]
    if statuses:
        parts.append(COUNT_STATUSES)
    parts.append(DONE)
    return "".join(parts)

