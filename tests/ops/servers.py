"""redis-server processes for the ops tests: optionally from a config file, with TLS.

The shared harness (tests/support/redis_server.py) puts its own defaults
first and detects readiness with an unauthenticated plain-TCP PING, which
cannot work for a config file (redis-server wants it as the first argument),
a password or a TLS-only port. These servers wait for the log's "Ready to
accept connections" instead, and run in their own process group so that
killing them also kills a BGSAVE or AOF-rewrite child that a test left
running (a SIGKILLed server would orphan it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import redis

from tests.ops.tls import Certificates
from tests.support.ports import free_port
from tests.support.redis_server import redis_server_binary

START_TIMEOUT_S = 10.0
READY = "Ready to accept connections"


class OpsRedis:
    """One redis-server on a free loopback port with its own data directory."""

    def __init__(self, data_dir: Path, *, conf: Path | None = None,
                 args: Sequence[str] = (), password: str | None = None,
                 tls: Certificates | None = None) -> None:
        self.data_dir = data_dir
        self.conf = conf
        self.port = free_port()  # the TLS port when `tls` is given (no plain port then)
        self.args = list(args)
        self.password = password
        self.tls = tls
        self.log = data_dir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def command_line(self) -> list[str]:
        # Without a config file, the harness's fast defaults (no persistence).
        defaults = [] if self.conf else ["--save", "", "--appendonly", "no"]
        password = ["--requirepass", self.password] if self.password else []
        listen = self.tls.server_args(self.port) if self.tls else ["--port", str(self.port)]
        return [
            redis_server_binary(), *([str(self.conf)] if self.conf else []),
            *listen, "--bind", "127.0.0.1", "--dir", str(self.data_dir),
            "--daemonize", "no", "--logfile", str(self.log),
            "--repl-diskless-sync-delay", "0", *defaults, *password, *self.args,
        ]

    def start(self) -> OpsRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            self.command_line(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while READY not in self._log_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not start: {self._log_text()[-600:]}")
            time.sleep(0.01)
        return self

    def _log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def client(self) -> redis.Redis:
        tls = {"ssl": True, "ssl_ca_certs": str(self.tls.ca)} if self.tls else {}
        return redis.Redis(host="localhost" if self.tls else "127.0.0.1", port=self.port,
                           password=self.password, socket_timeout=10, **tls)  # type: ignore[arg-type]

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (also ends any fork child)."""
        self._signal_group(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to the whole process group: the server and any fork child."""
        self._signal_group(signal.SIGKILL)

    def _signal_group(self, signum: signal.Signals) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0,
             what: str = "condition") -> None:
    """Poll `condition()` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def aof_rewrite_idle(client: redis.Redis) -> bool:
    info = client.info("persistence")
    return not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]
