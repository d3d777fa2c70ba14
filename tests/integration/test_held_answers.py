"""What an answer may hold, against the service process over real sockets:
batch bytes in flight are bounded by CACHE_INFLIGHT_MAX_BYTES (a new batch
past it gets 503 `overloaded`, small GETs still answer), and a large answer
its client does not read is dropped after HTTP_WRITE_TIMEOUT_MS, which
gives its bytes back."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from scripts.harness.service_process import ServiceProcess, http_get
from scripts.harness.waiting import wait_for

VALUE = b"x" * 900_000  # ASCII: a batch answers it as text, ~0.9 MB a key
# Answers larger than the kernel's socket buffers (up to 4 MB on loopback):
# the rest waits in the process, which is what the budget and timeout bound.
KEYS = [f"v{n}" for n in range(10)]
ENV = {"REDIS_URL": "", "CACHE_BATCH_MAX_BYTES": "1048576",
       "CACHE_INFLIGHT_MAX_BYTES": "2097152", "HTTP_WRITE_TIMEOUT_MS": "800"}
WRITE_TIMEOUT_S = 0.8


def _call(service: ServiceProcess, method: str, path: str, body: bytes | None = None,
          content_type: str = "application/json") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(service.base_url + path, data=body, method=method,
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _unread(service: ServiceProcess, raw: bytes) -> socket.socket:
    """A connection that sends `raw` and reads nothing (a small receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", service.port))
    sock.sendall(raw)
    return sock


def _drain(sock: socket.socket) -> int:
    """Bytes the service still sends before it closes (or resets) the connection."""
    sock.settimeout(10)
    received = 0
    try:
        while chunk := sock.recv(1 << 16):
            received += len(chunk)
    except ConnectionResetError:
        pass
    sock.close()
    return received


def _mget(keys: list[str]) -> bytes:
    body = json.dumps({"keys": keys}).encode()
    return (b"POST /cache/default/_mget HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)) + body


def test_unread_answers_are_budgeted_and_dropped(
    service_process: Callable[..., ServiceProcess],
) -> None:
    service = service_process(**ENV)
    for key in KEYS:
        assert _call(service, "PUT", f"/cache/default/{key}", VALUE, "text/plain")[0] == 204
    assert _call(service, "PUT", "/cache/default/small", b"small", "text/plain")[0] == 204
    small = json.dumps({"keys": ["v1"]}).encode()
    assert _call(service, "POST", "/cache/default/_mget", small)[0] == 200  # nothing held yet

    stuck = _unread(service, _mget(KEYS))  # a ~9 MB answer nobody reads

    def refused() -> bool:
        status, headers, body = _call(service, "POST", "/cache/default/_mget", small)
        return status == 503 and json.loads(body)["error"] == "overloaded" and (
            headers.get("Retry-After") == "1")

    wait_for(refused, timeout=5, what="a new batch refused while the answer is held")
    # Small GETs still answer (a large value's answer is in the budget too:
    # test_held_bodies.py).
    status, _, body = _call(service, "GET", "/cache/default/small")
    assert status == 200 and body == b"small"
    assert http_get(service.base_url + "/health")[0] == 200
    # The write timeout drops the reader that never read, and its bytes go back.
    wait_for(lambda: _call(service, "POST", "/cache/default/_mget", small)[0] == 200,
             timeout=10, what="the held answer dropped")
    assert _drain(stuck) < len(KEYS) * len(VALUE)

    get = b"GET /cache/default/v1 HTTP/1.1\r\nHost: t\r\n\r\n"
    pipelined = _unread(service, get * 9 + get.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
    # Nothing tells from outside that the timer fired: give it twice its time.
    time.sleep(2 * WRITE_TIMEOUT_S)
    assert _drain(pipelined) < 10 * len(VALUE)  # dropped before the ten were taken
    assert "Traceback" not in service.log()
