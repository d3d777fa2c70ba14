"""get_or_compute's flow (compute.py) driven by hand, without a service:
the steps it takes for answers that are awkward to provoke from a real one."""

from __future__ import annotations

from typing import Any

import pytest
from roleready_cache_client.compute import COMPUTE, Done, Plan, Sleep, advance, get_or_compute
from roleready_cache_client.protocol import Answer, Call, Protocol

PROTOCOL = Protocol("default")
MISS = {"x-cache": "miss"}


def _flow(wait_ms: int | None = None) -> Any:
    return get_or_compute(PROTOCOL, Plan("k", None, None, wait_ms, 30.0), lambda: 0.0)


def test_a_value_compute_cannot_encode_gives_the_lease_back() -> None:
    flow = _flow()
    assert isinstance(advance(flow, None, None), Call)
    assert advance(flow, Answer(404, {**MISS, "x-cache-lease": "rTok"}, b""), None) is COMPUTE
    release = advance(flow, {"not": "bytes"}, None)  # encoding it raises inside the flow
    assert isinstance(release, Call)
    assert (release.method, release.path, release.headers["X-Cache-Lease"]) == (
        "DELETE", "/cache/default/k/lease", "rTok")
    with pytest.raises(TypeError):
        advance(flow, Answer(204, {}, b""), None)


def test_wait_ms_zero_pauses_between_asks() -> None:
    flow = _flow(wait_ms=0)
    first = advance(flow, None, None)
    assert isinstance(first, Call) and first.path.endswith("?lease=1&wait_ms=0")
    step = advance(flow, Answer(404, {**MISS, "x-cache-lease": "pending"}, b""), None)
    assert step == Sleep(0.05)
    assert isinstance(advance(flow, None, None), Call)


def test_a_miss_without_a_lease_is_stored_with_a_plain_put() -> None:
    flow = _flow()
    advance(flow, None, None)
    assert advance(flow, Answer(404, MISS, b""), None) is COMPUTE
    put = advance(flow, "value", None)
    assert isinstance(put, Call) and put.method == "PUT" and "X-Cache-Lease" not in put.headers
    done = advance(flow, Answer(204, {}, b""), None)
    assert isinstance(done, Done) and (done.entry.value, done.entry.source) == (b"value", "computed")
