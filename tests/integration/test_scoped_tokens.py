"""CACHE_API_TOKENS_FILE against the real service process: each right allowed
and refused (401 and 403 bodies), namespaces and "*", the observing routes,
the fast path behind the same check, the caller (never the token) in the
access log and the per-caller counters, reloads on SIGHUP and on change, and
start-up refusals."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from scripts.harness.service_process import ServiceProcess
from scripts.harness.waiting import wait_for

TOKENS = {
    "reader": "tok-reader-5f1e-never-logged",
    "writer": "tok-writer-a07c-never-logged",
    "purger": "tok-purger-9d2b-never-logged",
    "watcher": "tok-watcher-3c8-never-logged",
    "anywhere": "tok-anywhere-71-never-logged",
}
ROOT = "tok-root-e44a-never-logged"
CALLERS = {
    "reader": (["default"], ["read"]),
    "writer": (["default"], ["read", "write"]),
    "purger": (["*"], ["purge"]),
    "watcher": (["*"], ["observe"]),
    "anywhere": (["*"], ["read", "write"]),
}
OBSERVING = ("/metrics", "/health/detailed", "/health/events", "/api/status", "/openapi.json")
Answer = tuple[int, dict[str, str], bytes]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _write_callers(path: Path, callers: dict[str, tuple[list[str], list[str]]]) -> None:
    entries = [
        f'[[caller]]\nname = "{name}"\nsha256 = "{_digest(TOKENS[name])}"\n'
        f"namespaces = {json.dumps(namespaces)}\nrights = {json.dumps(rights)}\n"
        for name, (namespaces, rights) in callers.items()
    ]
    staged = path.with_name("callers.new")
    staged.write_text("\n".join(entries))
    os.replace(staged, path)  # atomic, as a ConfigMap update is


def _call(service: ServiceProcess, method: str, path: str, who: str | None = None,
          body: bytes | None = None) -> Answer:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    if who is not None:
        headers["Authorization"] = f"Bearer {TOKENS.get(who, who)}"
    request = urllib.request.Request(service.base_url + path, data=body, method=method,
                                     headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _refused(answer: Answer, status: int, **named: str) -> None:
    """A 401/403 JSON answer naming what it names, and no token."""
    code, _, body = answer
    assert code == status, answer
    document = json.loads(body)
    assert document["error"] == ("unauthorized" if status == 401 else "forbidden")
    for field, value in named.items():
        assert document[field] == value, document
    assert not any(token.encode() in body for token in [*TOKENS.values(), ROOT])


@pytest.fixture
def callers_file(tmp_path: Path) -> Path:
    path = tmp_path / "callers.toml"
    _write_callers(path, CALLERS)
    return path


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServiceProcess]:
    """One process for the tests that only ask: starting one costs seconds."""
    directory = tmp_path_factory.mktemp("scoped")
    _write_callers(directory / "callers.toml", CALLERS)
    process = ServiceProcess({"REDIS_URL": "", "CACHE_API_TOKEN": ROOT,
                              "CACHE_API_TOKENS_FILE": str(directory / "callers.toml"),
                              "ACCESS_LOG": "true", "LOG_FORMAT": "json"},
                             directory / "service.log")
    yield process.start()
    process.kill()


def test_each_right_and_namespace_is_allowed_and_refused(service: ServiceProcess) -> None:
    put = _call(service, "PUT", "/cache/default/k", "writer", b'"v"')
    assert put[0] == 204
    assert _call(service, "GET", "/cache/default/k", "reader")[0] == 200  # the fast path
    assert _call(service, "GET", "/cache/default/gone", "reader")[0] == 404  # the handler
    _refused(_call(service, "GET", "/cache/default/k"), 401)
    _refused(_call(service, "GET", "/cache/default/k", "not-a-token"), 401)
    _refused(_call(service, "PUT", "/cache/default/k", "reader", b"x"), 403, right="write")
    _refused(_call(service, "DELETE", "/cache/default/k", "reader"), 403, right="write")
    _refused(_call(service, "GET", "/cache/ai_draft/k", "reader"), 403, namespace="ai_draft")
    _refused(_call(service, "GET", "/cache/default/k", "purger"), 403, right="read")
    # A lease GET may hand out a lease token: read alone is not enough.
    _refused(_call(service, "GET", "/cache/default/k?lease=1", "reader"), 403, right="write")
    assert _call(service, "GET", "/cache/default/k?lease=1", "writer")[0] == 200
    assert _call(service, "PUT", "/cache/ai_draft/k", "anywhere", b"v")[0] == 204  # "*"
    assert _call(service, "GET", "/cache/ai_draft/k", ROOT)[0] == 200  # the one token
    _refused(_call(service, "DELETE", "/cache/default/k/lease", "reader"), 403, right="write")


def test_batches_and_the_purge_need_their_rights(service: ServiceProcess) -> None:
    keys = b'{"keys": ["k"]}'
    entries = b'{"entries": {"k": {"value": "v"}}}'
    _refused(_call(service, "POST", "/cache/default/_mget", None, keys), 401)
    assert _call(service, "POST", "/cache/default/_mget", "reader", keys)[0] == 200
    _refused(_call(service, "POST", "/cache/default/_mset", "reader", entries), 403,
             right="write")
    _refused(_call(service, "POST", "/cache/default/_mdelete", "reader", keys), 403,
             right="write")
    _refused(_call(service, "POST", "/cache/ats_score/_mset", "writer", entries), 403,
             namespace="ats_score")
    assert _call(service, "POST", "/cache/default/_mset", "writer", entries)[0] == 200
    assert _call(service, "POST", "/cache/default/_mdelete", "writer", keys)[0] == 200
    _refused(_call(service, "DELETE", "/cache/default"), 401)
    _refused(_call(service, "DELETE", "/cache/default", "writer"), 403, right="purge")
    status, headers, _ = _call(service, "DELETE", "/cache/default", "purger")
    assert status == 202
    _refused(_call(service, "GET", headers["Location"], "reader"), 403, right="purge")
    assert _call(service, "GET", headers["Location"], "purger")[0] == 200


def test_observing_needs_observe_and_the_probes_stay_open(service: ServiceProcess) -> None:
    for path in ("/health", "/health/ready"):
        assert _call(service, "GET", path)[0] == 200, path
    for path in OBSERVING:
        _refused(_call(service, "GET", path), 401)
        _refused(_call(service, "GET", path, "reader"), 403, right="observe")
        assert _call(service, "GET", path, "watcher")[0] == 200, path
        assert _call(service, "GET", path, ROOT)[0] == 200, path
    _call(service, "GET", "/cache/default/k", "reader")
    _, _, text = _call(service, "GET", "/metrics", "watcher")
    counted = {line.split("}")[0] for line in text.decode().splitlines()
               if line.startswith("roleready_http_requests_by_caller_total{")}
    assert {f'roleready_http_requests_by_caller_total{{caller="{name}"'
            for name in ("reader", "watcher", "anonymous", "api-token")} <= counted


def test_the_access_log_names_the_caller_never_the_token(service: ServiceProcess) -> None:
    _call(service, "PUT", "/cache/default/logged", "writer", b"v")
    _call(service, "GET", "/cache/default/logged", "reader")  # the fast path logs too
    _call(service, "DELETE", "/cache/default/logged", "reader")
    _call(service, "GET", "/cache/default/logged")

    def logged() -> list[tuple[str, int, str]]:
        lines = [json.loads(line) for line in service.log().splitlines() if line.startswith("{")]
        return [(line["method"], line["status"], line["caller"]) for line in lines
                if line["logger"] == "roleready.access" and line["path"].endswith("/logged")]

    expected = [("PUT", 204, "writer"), ("GET", 200, "reader"), ("DELETE", 403, "reader"),
                ("GET", 401, "anonymous")]
    wait_for(lambda: len(logged()) == len(expected), what="four access lines")
    assert logged() == expected
    assert not any(token in service.log() for token in [*TOKENS.values(), ROOT])


def _sighup(service: ServiceProcess) -> None:
    assert service.process is not None
    line = "SIGHUP: re-reading CACHE_API_TOKENS_FILE"
    handled = service.log().count(line) + 1
    service.process.send_signal(signal.SIGHUP)
    wait_for(lambda: service.log().count(line) == handled, what="SIGHUP handled")


def test_a_revoked_caller_is_refused_after_a_change_or_a_sighup(
    service_process: Callable[..., ServiceProcess], callers_file: Path
) -> None:
    service = service_process(REDIS_URL="", CACHE_API_TOKENS_FILE=str(callers_file))
    assert _call(service, "GET", "/cache/default/k", "reader")[0] == 404
    # Changed on disk: refused from the first look after it, within a second.
    _write_callers(callers_file, {k: v for k, v in CALLERS.items() if k != "reader"})
    wait_for(lambda: _call(service, "GET", "/cache/default/k", "reader")[0] == 401,
             timeout=3, what="the revoked reader refused")
    assert _call(service, "GET", "/cache/default/k", "writer")[0] == 404
    # A malformed file keeps the callers there are, with one warning.
    callers_file.write_text('[[caller]]\nname = "writer"\n')
    _sighup(service)
    _sighup(service)
    assert _call(service, "GET", "/cache/default/k", "writer")[0] == 404
    # SIGHUP reads the file at once: the writer loses write, keeps read.
    _write_callers(callers_file, {"writer": (["default"], ["read"])})
    _sighup(service)
    _refused(_call(service, "PUT", "/cache/default/k", "writer", b"v"), 403, right="write")
    assert _call(service, "GET", "/cache/default/k", "writer")[0] == 404
    assert service.terminate() == 0
    warnings = [line for line in service.log().splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "CACHE_API_TOKENS_FILE" in warnings[0], warnings
    assert "missing field" in warnings[0]


def _start_up(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m service` expected to stop at start-up, binding nothing."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CACHE_API_")}
    return subprocess.run([sys.executable, "-m", "service"], capture_output=True, text=True,
                          env={**environ, "REDIS_URL": "", "PORT": "1", **env}, timeout=30,
                          cwd=tmp_path)


def test_start_up_refuses_an_open_network_address(tmp_path: Path) -> None:
    refused = _start_up(tmp_path, HOST="0.0.0.0")
    assert refused.returncode == 2 and refused.stdout == ""
    (line,) = refused.stderr.splitlines()
    for name in ("HOST", "CACHE_API_TOKEN", "CACHE_API_TOKENS_FILE", "CACHE_API_AUTH=none"):
        assert name in line


def test_the_explicit_opt_out_serves_a_network_address_open(
    service_process: Callable[..., ServiceProcess]
) -> None:
    service = service_process(REDIS_URL="", HOST="0.0.0.0", CACHE_API_AUTH="none")
    assert _call(service, "GET", "/metrics")[0] == 200
    assert _call(service, "GET", "/cache/default/k")[0] == 404


def test_a_header_of_raw_bytes_is_a_401_on_the_fast_path_too(service: ServiceProcess) -> None:
    assert _call(service, "PUT", "/cache/default/raw", "writer", b"v")[0] == 204
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as connection:
        connection.sendall(b"GET /cache/default/raw HTTP/1.1\r\nHost: x\r\n"
                           b"Authorization: Bearer \xff\xfe\xe9\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert b'"unauthorized"' in answer and b"Traceback" not in service.log().encode()
