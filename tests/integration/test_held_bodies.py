"""What a single-key request may hold, against the service process over real
sockets: a PUT's body is in the byte budget (CACHE_INFLIGHT_MAX_BYTES) from
its declared Content-Length on, before a byte of it is read, and a chunked
one (a batch's too) as it arrives; a large GET answer while it is written. Past the budget a
new PUT, or a GET of a large value, gets 503 `overloaded` (nothing stored);
small GETs still answer; every way a request ends gives its bytes back
(roleready_http_inflight_bytes back to 0)."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from scripts.harness.service_process import ServiceProcess, http_get
from scripts.harness.waiting import wait_for

MIB = 1 << 20
VALUE_MAX = 8 * MIB
BUDGET = 2 * VALUE_MAX
# Bodies and answers held for as long as the test keeps them; a value of
# 8 MiB is more than loopback's socket buffers take from an unread answer.
ENV = {"REDIS_URL": "", "CACHE_MAX_VALUE_BYTES": str(VALUE_MAX),
       "CACHE_BATCH_MAX_BYTES": str(VALUE_MAX), "CACHE_INFLIGHT_MAX_BYTES": str(BUDGET),
       "CACHE_LRU_MAX_BYTES": str(32 * VALUE_MAX), "HTTP_BODY_TIMEOUT_MS": "60000",
       "HTTP_WRITE_TIMEOUT_MS": "60000"}


def _call(service: ServiceProcess, method: str, path: str,
          body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(service.base_url + path, data=body, method=method,
                                     headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _metric(service: ServiceProcess, name: str) -> float:
    status, body = http_get(service.base_url + "/metrics")
    assert status == 200
    for line in body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def _held(service: ServiceProcess) -> int:
    return int(_metric(service, "roleready_http_inflight_bytes"))


def _wait_held(service: ServiceProcess, size: int) -> None:
    wait_for(lambda: _held(service) == size, timeout=10, what=f"{size} bytes held")


def _assert_overloaded(answer: tuple[int, dict[str, str], bytes]) -> None:
    status, headers, body = answer
    assert (status, json.loads(body)["error"], headers.get("Retry-After")) == (
        503, "overloaded", "1")


Connect = Callable[[ServiceProcess], socket.socket]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """Raw connections to a service, each closed at the end (or by the test)."""
    opened: list[socket.socket] = []

    def open_one(service: ServiceProcess) -> socket.socket:
        sock = socket.socket()
        opened.append(sock)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # takes little until read
        sock.settimeout(30)
        sock.connect(("127.0.0.1", service.port))
        return sock

    yield open_one
    for sock in opened:
        sock.close()


def _slow_put(sock: socket.socket, key: str, length: int) -> socket.socket:
    """A PUT declaring `length` bytes that sends the first 1,000 of them."""
    sock.sendall(b"PUT /cache/default/%s HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                 b"Content-Length: %d\r\n\r\n" % (key.encode(), length) + b"s" * 1000)
    return sock


def _status(sock: socket.socket) -> int:
    """The status of the next answer on `sock` (its head read, the rest left)."""
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, head
        head += chunk
    return int(head.split(b" ", 2)[1])


def _chunked(sock: socket.socket, target: str, body: bytes, chunk: int,
             method: bytes = b"PUT") -> None:
    """`body` sent to `target` in `chunk`-byte chunks (stops sending when the
    service closes the connection)."""
    sock.sendall(b"%s %s HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n" % (method, target.encode()))
    try:
        for start in range(0, len(body), chunk):
            part = body[start:start + chunk]
            sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # refused mid-body: the answer is still there to read


def test_slow_uploads_hold_their_declared_bytes_until_they_end(
    service_process: Callable[..., ServiceProcess], connect: Connect,
) -> None:
    service = service_process(**ENV)
    assert _call(service, "PUT", "/cache/default/small", b"small")[0] == 204
    mid = b"m" * 100_000  # a large answer (over 64 KiB)
    assert _call(service, "PUT", "/cache/default/mid", mid)[0] == 204
    assert _held(service) == 0
    overloaded_before = _metric(service, "roleready_http_overloaded_total")

    finishing = _slow_put(connect(service), "slow-1", VALUE_MAX)
    leaving = _slow_put(connect(service), "slow-2", VALUE_MAX)
    _wait_held(service, BUDGET)  # both declared lengths, 1,000 bytes of each sent

    _assert_overloaded(_call(service, "PUT", "/cache/default/refused", b"v"))
    with connect(service) as chunked:  # declares nothing: refused before its body
        _chunked(chunked, "/cache/default/refused", b"c" * 100, 10)
        assert _status(chunked) == 503
    assert _call(service, "GET", "/cache/default/refused")[0] == 404  # nothing stored
    assert _call(service, "GET", "/cache/default/small")[:3:2] == (200, b"small")
    _assert_overloaded(_call(service, "GET", "/cache/default/mid"))
    _assert_overloaded(_call(service, "GET", "/cache/default/mid?lease=1"))
    assert _call(service, "HEAD", "/cache/default/mid")[0] == 200  # writes no value
    assert http_get(service.base_url + "/health")[0] == 200
    assert _metric(service, "roleready_http_overloaded_total") == overloaded_before + 4

    finishing.sendall(b"s" * (VALUE_MAX - 1000))  # the rest of its body
    assert _status(finishing) == 204
    leaving.close()  # the client leaves mid-body
    finishing.close()
    _wait_held(service, 0)

    assert _call(service, "PUT", "/cache/default/after", b"v")[0] == 204
    assert _call(service, "GET", "/cache/default/mid")[:3:2] == (200, mid)
    assert _call(service, "GET", "/cache/default/mid?lease=1")[:3:2] == (200, mid)
    assert _call(service, "GET", "/cache/default/slow-1")[2] == b"s" * VALUE_MAX
    assert _call(service, "GET", "/cache/default/slow-2")[0] == 404
    assert _held(service) == 0
    assert "Traceback" not in service.log()


def test_a_large_answer_is_held_until_its_reader_leaves(
    service_process: Callable[..., ServiceProcess], connect: Connect,
) -> None:
    service = service_process(**ENV)
    big = b"b" * VALUE_MAX
    assert _call(service, "PUT", "/cache/default/big", big)[0] == 204
    assert _call(service, "PUT", "/cache/default/small", b"small")[0] == 204

    unread = connect(service)
    unread.sendall(b"GET /cache/default/big HTTP/1.1\r\nHost: t\r\n\r\n")
    _wait_held(service, VALUE_MAX)  # the answer's bytes, until written
    upload = _slow_put(connect(service), "slow", VALUE_MAX)  # what is left of the budget
    _wait_held(service, BUDGET)
    _assert_overloaded(_call(service, "GET", "/cache/default/big"))
    _assert_overloaded(_call(service, "PUT", "/cache/default/refused", b"v"))
    assert _call(service, "GET", "/cache/default/small")[:3:2] == (200, b"small")

    unread.close()  # the reader leaves: its answer's bytes go back
    _wait_held(service, VALUE_MAX)
    upload.close()
    _wait_held(service, 0)
    assert _call(service, "GET", "/cache/default/big")[:3:2] == (200, big)
    assert _held(service) == 0
    assert "Traceback" not in service.log()


def test_a_chunked_body_is_taken_as_it_arrives(
    service_process: Callable[..., ServiceProcess], connect: Connect,
) -> None:
    service = service_process(**ENV)
    first = _slow_put(connect(service), "slow-1", VALUE_MAX)
    second = _slow_put(connect(service), "slow-2", VALUE_MAX - MIB)
    _wait_held(service, BUDGET - MIB)  # a MiB left

    with connect(service) as refused:  # 2 MiB: refused once past the MiB left
        _chunked(refused, "/cache/default/chunked", b"c" * 2 * MIB, 64 * 1024)
        assert _status(refused) == 503
    _wait_held(service, BUDGET - MIB)  # what it had taken is given back
    assert _call(service, "GET", "/cache/default/chunked")[0] == 404
    batch = json.dumps({"entries": {"batched": {"value": "b" * 2 * MIB}}}).encode()
    with connect(service) as refused:  # a batch's chunked body alike
        _chunked(refused, "/cache/default/_mset", batch, 64 * 1024, b"POST")
        assert _status(refused) == 503
    _wait_held(service, BUDGET - MIB)
    assert _call(service, "GET", "/cache/default/batched")[0] == 404

    with connect(service) as fits:  # half a MiB: taken as it comes, and stored
        _chunked(fits, "/cache/default/chunked", b"c" * (MIB // 2), 64 * 1024)
        assert _status(fits) == 204
    _wait_held(service, BUDGET - MIB)
    first.close()
    second.close()
    _wait_held(service, 0)
    assert _call(service, "GET", "/cache/default/chunked")[2] == b"c" * (MIB // 2)
    assert "Traceback" not in service.log()
