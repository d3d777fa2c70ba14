"""Request input the service once answered with a 500 or an exception, each
found by the hostile-input campaign (test_hostile_input.py), sent here over
a raw socket to an in-process app (memory only: none of it needs Redis).

    unicode digits in ?limit, ?wait_ms, ?ttl_ms   ─► 400 (int('²') raised)
    more digits than int() converts               ─► 400 (int() raised)
    Authorization that is not UTF-8               ─► 401 (the fast path raised)
    a body shorter than its Content-Length        ─► no 500 (ConnectionResetError)
    %0a in a path                                 ─► one log line, escaped
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient

from scripts.harness.service_process import ServiceProcess
from service.logs import TextFormatter
from tests.support.hostile import TRUNCATED, exchange, request, send

StartClient = Callable[..., Awaitable[TestClient]]
TOKEN = "strict-token"
NUMBERS = ["%C2%B2", "%D9%A3", "%EF%BC%91", "9" * 5000, "1_0", "+1", "%201"]


async def _client(app_client: StartClient) -> TestClient:
    client = await app_client("", CACHE_API_TOKEN=TOKEN)
    assert (await client.put("/cache/default/k", data=b"v",
                             headers={"Authorization": f"Bearer {TOKEN}"})).status == 204
    return client


@pytest.mark.parametrize("number", NUMBERS)
async def test_numbers_are_ascii_digits_or_a_400(app_client: StartClient, number: str) -> None:
    client = await _client(app_client)
    port = client.port
    asked = {
        "bad_limit": request("GET", f"/health/events?limit={number}", token=TOKEN),
        # A hit: the fast path parses wait_ms first, then the handler.
        "bad_wait_ms": request("GET", f"/cache/default/k?lease=1&wait_ms={number}", token=TOKEN),
        "bad_ttl_ms": request("PUT", f"/cache/default/k?ttl_ms={number}", body=b"v", token=TOKEN),
    }
    for code, raw in asked.items():
        answer = await exchange(port, raw)
        assert answer.status == 400, (code, answer.head)


@pytest.mark.parametrize("value", [b"Bearer \xff\xfe", b"\xc3\xa9", b"Bearer strict-token\x80"])
async def test_an_authorization_that_is_not_utf8_is_a_401(app_client: StartClient,
                                                          value: bytes) -> None:
    client = await _client(app_client)
    for method in ("GET", "PUT", "DELETE"):  # a hit (the fast path), a write, a delete
        answer = await exchange(client.port, request(method, "/cache/default/k",
                                                     {"Authorization": value}, b"v"))
        assert answer.status == 401, (method, answer.head)


def test_a_truncated_body_is_no_500(service_process: Callable[..., ServiceProcess]) -> None:
    """A real process: under uvloop the handler meets the body's end as a
    ConnectionResetError (the in-process test server's loop closes first)."""
    service = service_process(REDIS_URL="", CACHE_API_TOKEN=TOKEN)
    for method, path in (("PUT", "/cache/default/k"), ("POST", "/cache/default/_mset"),
                         ("POST", "/cache/default/_mget")):
        answer = send(service.port, request(method, path, body=TRUNCATED, length=1000,
                                            token=TOKEN))
        assert answer.status in (None, 400), answer.head  # the client left: nobody to answer
    plain = send(service.port, request("GET", "/cache/default/k", token=TOKEN))
    assert plain.status == 404
    assert "Traceback" not in service.log() and " ERROR " not in service.log()


def test_text_log_lines_escape_control_characters() -> None:
    record = logging.LogRecord("roleready.access", logging.INFO, __file__, 1,
                               "%s %s", ("GET", "/cache/default/a\nFAKE ERROR x\r\x00\u2028"),
                               None)
    record.request_id = None
    line = TextFormatter().format(record)
    assert "\n" not in line and "\r" not in line and "\x00" not in line
    assert line.endswith("/cache/default/a\\x0aFAKE ERROR x\\x0d\\x00\\u2028")
