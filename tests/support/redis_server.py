"""Real redis-server processes for tests: start, kill, hang, restart.

Each server listens on a free loopback port with its own temporary data
directory; nothing here ever touches the machine's Redis on 6379. A
`RedisServers` group stops every process it started when it closes, whether
the test passed or failed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from tests.support.ports import free_port

START_TIMEOUT_S = 10.0


def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise RuntimeError("redis-server is not on PATH (scripts/test installs it)")
    return path


def ping(port: int, *, timeout: float = 0.5, host: str = "127.0.0.1") -> bool:
    """True when a server on `port` answers PING with PONG (raw RESP)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server process with a fixed port and data directory."""

    def __init__(self, data_dir: Path, *, port: int, args: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        self.port = port
        self.host = "127.0.0.1"
        self.args = list(args)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command_line(self) -> list[str]:
        # Defaults keep tests fast and isolated; `args` come last and win.
        return [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", self.host,
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--save", "",
            "--appendonly", "no",
            "--logfile", str(self.data_dir / "redis.log"),
            "--repl-diskless-sync-delay", "0",
            *self.args,
        ]

    def start(self) -> RedisServer:
        if self.running:
            raise RuntimeError(f"redis-server on {self.port} is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command_line(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ping(self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start-up: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"redis-server did not answer PING: {self.log_tail()}")
            time.sleep(0.01)
        return self

    def log_tail(self, lines: int = 5) -> str:
        log = self.data_dir / "redis.log"
        if not log.exists():
            return "(no log)"
        return " | ".join(log.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: the server vanishes without saving (a crash)."""
        self._signal_and_wait(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (saves when persistence is configured)."""
        self._signal_and_wait(signal.SIGTERM)

    def pause(self) -> None:
        """SIGSTOP: the process hangs; connections stay open but nothing answers."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGCONT)

    def restart(self) -> RedisServer:
        """Stop (if running) and start again on the same port and data dir."""
        if self.running:
            self.stop()
        return self.start()

    def _signal_and_wait(self, signum: signal.Signals) -> None:
        if not self.running:
            return
        assert self.process is not None
        with _ignore_missing():
            os.kill(self.process.pid, signal.SIGCONT)  # a paused server can't exit
            os.kill(self.process.pid, signum)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@contextmanager
def _ignore_missing() -> Iterator[None]:
    try:
        yield
    except ProcessLookupError:
        pass


class RedisServers:
    """A group of servers under one temporary directory, all stopped on close."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.servers: list[RedisServer] = []

    def start(self, *args: str, port: int | None = None) -> RedisServer:
        index = len(self.servers)
        server = RedisServer(
            self.base_dir / f"redis-{index}", port=port or free_port(), args=args
        )
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        for server in self.servers:
            server.kill()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
