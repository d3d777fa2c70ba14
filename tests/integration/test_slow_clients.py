"""Slow and abusive clients against the service process, over real sockets:
a body trickling in gets 408 and stores nothing, requests beyond
HTTP_MAX_INFLIGHT get 503 `overloaded` while /health answers, a connection
that never finishes its headers is closed by the keep-alive timer; and with
LOG_FORMAT=json every log line is JSON carrying the request ids."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

from scripts.harness.ports import free_port
from scripts.harness.service_process import ServiceProcess, http_get

MEMORY_ONLY = {"REDIS_URL": ""}


def _connect(service: ServiceProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", service.port), timeout=5)


def _start_slow_put(service: ServiceProcess, key: str) -> socket.socket:
    """A PUT that declares 100 bytes and sends the first one."""
    sock = _connect(service)
    sock.sendall(
        f"PUT /cache/default/{key} HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nx".encode()
    )
    return sock


def _read_until_closed(sock: socket.socket, timeout: float) -> bytes:
    sock.settimeout(timeout)
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def _dripping_until_closed(sock: socket.socket, limit_s: float = 5.0) -> float:
    """Send a byte every 0.2 s until the peer closes; when it did (monotonic)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic()
            sock.sendall(b"x")
        except TimeoutError:
            try:
                sock.sendall(b"x")
            except OSError:
                return time.monotonic()
        except OSError:
            return time.monotonic()
    raise AssertionError(f"still open after {limit_s} s")


def _status(service: ServiceProcess, method: str, path: str) -> tuple[int, dict[str, str]]:
    sock = _connect(service)
    with sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
        head = _read_until_closed(sock, 5).split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), headers


def test_a_trickling_body_gets_408_within_the_timeout_and_stores_nothing(
    service_process: Callable[..., ServiceProcess],
) -> None:
    service = service_process(**MEMORY_ONLY, HTTP_BODY_TIMEOUT_MS="800")
    sock = _start_slow_put(service, "slow")
    started = time.monotonic()
    with sock:
        sock.settimeout(0.25)
        answer = b""
        while b"\r\n\r\n" not in answer:  # one byte every 0.25 s meanwhile
            try:
                answer += sock.recv(4096)
            except TimeoutError:
                sock.sendall(b"x")
        elapsed = time.monotonic() - started
        # aiohttp reads what still comes for up to the same timeout, then closes.
        closed_after = _dripping_until_closed(sock) - started
    assert 0.7 < elapsed < 2.0 and closed_after < 2 * 0.8 + 1.0, (elapsed, closed_after)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"Connection: close" in answer, answer
    assert b'"error":"request_timeout"' in answer
    assert http_get(service.base_url + "/cache/default/slow")[0] == 404


def test_shutdown_waits_shutdown_timeout_ms_for_a_request_in_progress_then_exits_cleanly(
    service_process: Callable[..., ServiceProcess],
) -> None:
    # The body would be waited for 60 s; the shutdown gives it 0.3 s. With
    # one request allowed in progress, a 503 shows that the PUT holds it.
    service = service_process(
        **MEMORY_ONLY, HTTP_BODY_TIMEOUT_MS="60000", SHUTDOWN_TIMEOUT_MS="300",
        HTTP_MAX_INFLIGHT="1",
    )
    with _start_slow_put(service, "cut"):
        deadline = time.monotonic() + 3
        while _status(service, "GET", "/cache/default/other")[0] != 503:
            assert time.monotonic() < deadline, "the PUT never reached its handler"
        # With the old fixed 10 s, this wait would time out.
        assert service.terminate(timeout=6) == 0
    assert "stopped" in service.log()


def test_beyond_max_inflight_cache_routes_answer_503_and_health_still_answers(
    service_process: Callable[..., ServiceProcess],
) -> None:
    service = service_process(**MEMORY_ONLY, HTTP_MAX_INFLIGHT="2", HTTP_BODY_TIMEOUT_MS="3000")
    holders = [_start_slow_put(service, f"held-{i}") for i in range(2)]
    deadline = time.monotonic() + 3
    while (answer := _status(service, "GET", "/cache/default/other"))[0] != 503:
        assert time.monotonic() < deadline, answer
    status, headers = answer
    assert headers["Retry-After"] == "1" and headers["Content-Type"] == "application/problem+json"
    assert _status(service, "GET", "/health")[0] == 200
    assert _status(service, "GET", "/health/ready")[0] == 200
    assert _status(service, "GET", "/metrics")[0] == 200
    for sock in holders:  # the holders give up: the slots come back
        sock.close()
    deadline = time.monotonic() + 3
    while _status(service, "GET", "/cache/default/other")[0] != 404:
        assert time.monotonic() < deadline


def test_a_connection_that_never_finishes_its_headers_is_closed_by_the_keepalive_timer(
    service_process: Callable[..., ServiceProcess],
) -> None:
    service = service_process(**MEMORY_ONLY, HTTP_KEEPALIVE_TIMEOUT_MS="1000")
    sock = _connect(service)
    started = time.monotonic()
    with sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: t\r\nX-Drip: ")
        # A byte every 0.2 s: bytes arriving do not restart the timer.
        elapsed = _dripping_until_closed(sock) - started
    assert 0.9 < elapsed < 2.0, elapsed
    # A well-behaved caller on a kept-alive connection is not affected.
    assert http_get(service.base_url + "/health")[0] == 200


def test_json_logs_parse_and_carry_request_ids_and_the_links_fields(
    service_process: Callable[..., ServiceProcess],
) -> None:
    refused = f"redis://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    service = service_process(
        REDIS_URL=refused, REDIS_LAZY_CONNECT="false", LOG_FORMAT="json", ACCESS_LOG="true",
        REDIS_BACKOFF_BASE_MS="50", REDIS_BACKOFF_MAX_MS="50",
    )
    sock = _connect(service)
    with sock:
        sock.sendall(b"GET /cache/default/k HTTP/1.1\r\nHost: t\r\nX-Request-ID: trace-42\r\n"
                     b"Connection: close\r\n\r\n")
        assert b"X-Request-ID: trace-42" in _read_until_closed(sock, 5)
    assert service.terminate() == 0
    lines = [json.loads(line) for line in service.log().splitlines()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    access = [line for line in lines if line["logger"] == "roleready.access"]
    assert any(line["request_id"] == "trace-42" and line["status"] == 404 for line in access)
    errors = [line for line in lines if "error_kind" in line]
    assert errors and errors[0]["error_kind"] == "connection_refused", lines
    assert errors[0]["suppressed"] == 0 and "state" in errors[0]
