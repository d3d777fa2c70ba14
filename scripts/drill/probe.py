"""The service as the drill sees it: HTTP answers, shell commands, health polls.

Standard library only, like the rest of scripts/drill/.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


class StepFailed(Exception):
    """A step's check did not hold; the message says what was seen."""



@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    elapsed_s: float

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise StepFailed(f"expected JSON, got {self.body[:120]!r}") from exc


class Service:
    """The service's HTTP API; any answer (even 5xx) is a Reply, no answer raises."""

    def __init__(self, url: str, timeout_s: float, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.token = token

    def call(self, method: str, path: str, body: bytes | None = None) -> Reply:
        request = urllib.request.Request(self.url + path, data=body, method=method)
        if self.token:  # /cache/ and the observing routes (/health/detailed) need it
            request.add_header("Authorization", f"Bearer {self.token}")
        if body is not None:
            request.add_header("Content-Type", "text/plain")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return Reply(response.status, response.read(), dict(response.headers),
                             time.monotonic() - started)
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, exc.read(), dict(exc.headers), time.monotonic() - started)
        except (OSError, urllib.error.URLError) as exc:
            raise StepFailed(f"{method} {path}: no answer from {self.url} ({exc})") from exc

    def get_json(self, path: str) -> Any:
        reply = self.call("GET", path)
        if reply.status != 200:
            raise StepFailed(f"GET {path} answered {reply.status}: {reply.body[:200]!r}")
        return reply.json()

    def redis_check(self) -> dict[str, Any]:
        return dict(self.get_json("/health/detailed")["checks"]["redis"])

    def last_seq(self) -> int:
        events = self.get_json("/health/events?limit=1")["events"]
        return int(events[-1]["seq"]) if events else 0


def run_command(command: str, timeout_s: float,
                replacements: Mapping[str, str] | None = None) -> tuple[float, str]:
    """Run an operator's `command` without a shell: split into words as a
    shell would (shlex), then each `{name}` of `replacements` replaced inside
    the words, so a replacement (a host a sentinel named) is always part of
    one word, whatever it holds, and never shell text. Output goes to a file,
    not a pipe, so a start command that leaves a daemon behind cannot hold
    the drill open."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise StepFailed(f"`{command}`: {exc}") from None
    if not words:
        raise StepFailed("an empty command")
    for name, value in (replacements or {}).items():
        words = [word.replace("{" + name + "}", value) for word in words]
    shown = shlex.join(words)
    with tempfile.TemporaryFile() as output:
        started = time.monotonic()
        try:
            code = subprocess.run(words, stdin=subprocess.DEVNULL, stdout=output,
                                  stderr=subprocess.STDOUT, timeout=timeout_s,
                                  check=False).returncode
        except subprocess.TimeoutExpired as exc:
            raise StepFailed(f"`{shown}` still running after {timeout_s:g} s") from exc
        except OSError as exc:
            raise StepFailed(f"`{shown}` could not run: {exc.strerror or exc}") from None
        elapsed = time.monotonic() - started
        output.seek(0)
        tail = output.read().decode(errors="replace").strip()[-300:]
    if code != 0:
        raise StepFailed(f"`{shown}` exited {code}" + (f": {tail}" if tail else ""))
    return elapsed, f"`{shown}` exit 0 in {elapsed:.2f} s"


def wait_for_redis(service: Service, want: str, *, since: float, timeout_s: float,
                   poll_s: float, after: str,
                   interrupted: Callable[[], bool] = lambda: False) -> tuple[float, dict[str, Any]]:
    """Poll /health/detailed until checks.redis.status == `want`; return the
    seconds from `since` (a time.monotonic() mark) to the poll that saw it."""
    while True:
        if interrupted():
            raise StepFailed(f"interrupted (Ctrl-C) while waiting for {want!r}")
        check = service.redis_check()
        waited = time.monotonic() - since
        if check.get("status") == want:
            return round(waited, 3), check
        if check.get("enabled") is False:
            raise StepFailed("the service runs memory-only (REDIS_URL is empty): nothing to drill")
        if waited >= timeout_s:
            raise StepFailed(
                f"checks.redis.status still {check.get('status')!r} {waited:.2f} s {after} "
                f"(connectionStatus={check.get('connectionStatus')!r}, "
                f"lastError={check.get('lastError')!r})")
        time.sleep(min(poll_s, max(0.0, timeout_s - waited)))

