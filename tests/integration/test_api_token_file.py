"""CACHE_API_TOKEN_FILE through HTTP: in-process on a FakeClock (rotation,
overlap, the memory-hit fast path behind the same check), and the real
service process re-reading the file on SIGHUP without ever logging a token."""

from __future__ import annotations

import json
import os
import signal
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp.test_utils import TestClient

from scripts.harness.service_process import ServiceProcess
from scripts.harness.waiting import wait_for
from service.http.followed_file import CHECK_INTERVAL_S
from statemachine.clock import FakeClock

OLD = "tok-old-3b9e-never-logged"
NEW = "tok-new-c41d-never-logged"  # as long as OLD: see _replace_unseen
SIGHUP_LINE = "SIGHUP: re-reading CACHE_API_TOKEN_FILE"
StartClient = Callable[..., Awaitable[TestClient]]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _rotate(path: Path, token: str) -> None:
    staged = path.with_name("token.new")
    staged.write_text(token + "\n")
    os.replace(staged, path)


async def _status(client: TestClient, token: str, key: str = "k") -> int:
    return (await client.get(f"/cache/default/{key}", headers=_auth(token))).status


async def test_a_rotated_file_is_followed_on_the_fast_path_with_an_overlap(
    app_client: StartClient, tmp_path: Path
) -> None:
    path = tmp_path / "token"
    path.write_text(OLD)
    clock = FakeClock()
    client = await app_client(
        "", clock=clock, CACHE_API_TOKEN_FILE=str(path), CACHE_API_TOKEN_OVERLAP_MS="30000"
    )
    put = await client.put("/cache/default/k", data=b"v", headers=_auth(OLD))
    assert put.status == 204
    assert await _status(client, OLD) == 200  # a memory hit: the fast path
    _rotate(path, NEW)
    assert await _status(client, NEW) == 401  # not looked at within the second
    clock.advance(CHECK_INTERVAL_S)
    assert await _status(client, NEW) == 200
    clock.advance(29.9)
    assert await _status(client, OLD) == 200  # the overlap
    clock.advance(0.1)
    refused = await client.get("/cache/default/k", headers=_auth(OLD))
    assert refused.status == 401
    body = await refused.text()
    assert json.loads(body)["error"] == "unauthorized"
    assert OLD not in body and NEW not in body
    assert await _status(client, NEW) == 200
    assert await _status(client, NEW, "missing") == 404  # the handler, behind the same check
    detailed = await (await client.get("/health/detailed")).text()
    assert OLD not in detailed and NEW not in detailed


def _get(service: ServiceProcess, token: str) -> int:
    request = urllib.request.Request(
        service.base_url + "/cache/default/k", headers=_auth(token)
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _replace_unseen(path: Path, token: str) -> None:
    """Rewrite the file in place keeping its size, inode and mtime, so the
    once-a-second stat cannot tell: only SIGHUP makes the service read it."""
    before = path.stat()
    assert len(token) == before.st_size
    path.write_text(token)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def _sighup(service: ServiceProcess) -> None:
    """Send SIGHUP and wait until the service has handled it (its log says so)."""
    assert service.process is not None
    handled = service.log().count(SIGHUP_LINE) + 1
    service.process.send_signal(signal.SIGHUP)
    wait_for(lambda: service.log().count(SIGHUP_LINE) == handled, what="SIGHUP handled")


def _start(start: Callable[..., ServiceProcess], path: Path) -> ServiceProcess:
    """A memory-only service reading its token from `path`, which holds OLD."""
    path.write_text(OLD)
    return start(REDIS_URL="", CACHE_API_TOKEN_FILE=str(path))


def _stopped_log(service: ServiceProcess) -> str:
    """Stop the service; its log, which names neither token."""
    assert service.terminate() == 0
    log = service.log()
    assert OLD not in log and NEW not in log
    return log


def test_sighup_re_reads_the_token_file(
    service_process: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    path = tmp_path / "token"
    service = _start(service_process, path)
    assert _get(service, OLD) == 404 and _get(service, NEW) == 401
    _replace_unseen(path, NEW)
    _sighup(service)
    assert _get(service, NEW) == 404
    assert _get(service, OLD) == 404  # within the 60 s overlap
    assert "CACHE_API_TOKEN_FILE changed" in _stopped_log(service)


def test_an_emptied_token_file_keeps_the_last_token_and_warns_once(
    service_process: Callable[..., ServiceProcess], tmp_path: Path
) -> None:
    path = tmp_path / "token"
    service = _start(service_process, path)
    path.write_text("\n")
    _sighup(service)
    _sighup(service)
    assert _get(service, OLD) == 404
    path.write_text(NEW)
    _sighup(service)
    assert _get(service, NEW) == 404
    warnings = [line for line in _stopped_log(service).splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and "CACHE_API_TOKEN_FILE" in warnings[0]
    assert "is empty" in warnings[0]
