"""The real service as a child process (`python -m service`) on a free port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from scripts.harness.ports import free_port

START_TIMEOUT_S = 15.0


def http_get(url: str, timeout: float = 2.0, token: str | None = None) -> tuple[int, bytes]:
    """GET `url`, with `token` as the bearer token when given."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                    timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def link_state(service: ServiceProcess, token: str | None = None) -> str:
    """The Redis link's state as the service's /api/status tells it (`token`:
    a service with tokens answers it to the observe right only)."""
    status, body = http_get(service.base_url + "/api/status", token=token)
    assert status == 200
    state: str = json.loads(body)["redis"]["state"]
    return state


class ServiceProcess:
    """Start with `start()`, stop with `terminate()` (SIGTERM, graceful).

    `command` runs instead of `python -m service` (the README's `scripts/run`).
    """

    def __init__(self, env: Mapping[str, str], log_path: Path,
                 command: Sequence[str] | None = None) -> None:
        self.command = list(command or [sys.executable, "-m", "service"])
        self.port = free_port()
        self.env = {
            **os.environ,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": "INFO",
            # Tests stop many services: no load balancer to drain for, unless
            # a test asks for it.
            "SHUTDOWN_DRAIN_MS": "0",
            **env,
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServiceProcess:
        self.spawn()
        return self.wait_answering()

    def spawn(self) -> ServiceProcess:
        """The process started, not waited for (`wait_answering`): several
        instances start side by side."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait_answering(self) -> ServiceProcess:
        """Until the spawned process answers /health (killed if it never does)."""
        assert self.process is not None, "spawn() first"
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited at start-up (exit code "
                                   f"{self.process.returncode}): {self.log()}")
            try:
                if http_get(self.base_url + "/health", timeout=0.5)[0] == 200:
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"service did not answer /health: {self.log()}")
            time.sleep(0.05)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
