"""Real redis-server processes for the tests, the ops tests and the benchmark.

Each server listens on a free loopback port (never the machine's 6379) with
its own data directory, from the fast defaults (no persistence) or from a
config file, optionally with a password or TLS only. Readiness is the log's
"Ready to accept connections", which works for all of those (a plain PING
cannot pass a password or TLS). Every server runs in its own process group,
so killing it also kills a BGSAVE or AOF-rewrite child it forked (a SIGKILLed
server would orphan it). A `RedisServers` group stops every process it
started when it closes, whether the body passed or raised. Standard library
only, except `client()`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

import redis

from scripts.harness import ProcessError
from scripts.harness.ports import free_port
from scripts.harness.tls import Certificates

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0
# A data node says the first, a sentinel (--sentinel) only the second.
READY = (b"Ready to accept connections", b"Sentinel ID is")


def redis_server_binary() -> str:
    path = shutil.which("redis-server")
    if path is None:
        raise ProcessError("redis-server is not on PATH (scripts/test installs it)")
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
    """One redis-server process with a fixed port and data directory.

    `conf` is a config file (redis-server wants it first; without one the
    fast defaults apply); `password` adds --requirepass; `tls` makes `port`
    the TLS port and turns the plain port off; `args` come last and win.
    `preexec_fn` runs in the child before exec (the benchmark pins CPUs).
    A server that exits or never gets ready at start-up is a ProcessError.
    """

    def __init__(self, data_dir: Path, *, port: int | None = None, args: Sequence[str] = (),
                 conf: Path | None = None, password: str | None = None,
                 tls: Certificates | None = None,
                 preexec_fn: Callable[[], None] | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.args = list(args)
        self.conf = conf
        self.password = password
        self.tls = tls
        self.preexec_fn = preexec_fn
        self.log_path = data_dir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_start = 0

    @property
    def url(self) -> str:
        scheme, host = ("rediss", "localhost") if self.tls else ("redis", self.host)
        auth = f":{self.password}@" if self.password else ""
        return f"{scheme}://{auth}{host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def command_line(self) -> list[str]:
        defaults = [] if self.conf else ["--save", "", "--appendonly", "no"]
        listen = self.tls.server_args(self.port) if self.tls else ["--port", str(self.port)]
        password = ["--requirepass", self.password] if self.password else []
        return [
            redis_server_binary(), *([str(self.conf)] if self.conf else []),
            *listen, "--bind", self.host, "--dir", str(self.data_dir),
            "--daemonize", "no", "--logfile", str(self.log_path),
            "--repl-diskless-sync-delay", "0", *defaults, *password, *self.args,
        ]

    def start(self) -> RedisServer:
        if self.running:
            raise ProcessError(f"redis-server on {self.port} is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Readiness is read from this start's part of the log only.
        self._log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.process = subprocess.Popen(
            self.command_line(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
            # The callers run no threads while starting servers.
            preexec_fn=self.preexec_fn,  # noqa: PLW1509
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not any(line in self._log_since_start() for line in READY):
            if self.process.poll() is not None:
                raise ProcessError(f"redis-server exited at start-up: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise ProcessError(f"redis-server did not become ready: {self.log_tail()}")
            time.sleep(0.005)
        return self

    def _log_since_start(self) -> bytes:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_start)
                return log.read()
        except FileNotFoundError:
            return b""

    def log_tail(self, lines: int = 5) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return " | ".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def client(self) -> redis.Redis:
        """A redis-py client (TLS and password as the server wants them)."""
        tls = {"ssl": True, "ssl_ca_certs": str(self.tls.ca)} if self.tls else {}
        return redis.Redis(host="localhost" if self.tls else self.host, port=self.port,
                           password=self.password, socket_timeout=10,
                           **tls)  # type: ignore[arg-type]

    def kill(self) -> None:
        """SIGKILL to the process group: the server and any fork child vanish (a crash)."""
        self._signal_group(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM: a clean shutdown (saves when persistence is configured)."""
        self._signal_group(signal.SIGTERM)

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

    def _signal_group(self, signum: signal.Signals) -> None:
        # The group too when the server itself is gone: a fork child may remain.
        if self.process is None:
            return
        pid = self.process.pid
        if self.running:
            _signal(os.kill, pid, signal.SIGCONT)  # a paused server can't exit
        _signal(os.killpg, pid, signum)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            _signal(os.killpg, pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)


def _signal(send: Callable[[int, int], None], pid: int, signum: signal.Signals) -> None:
    try:
        send(pid, signum)
    except ProcessLookupError:
        pass


class RedisServers:
    """A group of servers under one directory, all killed on close; each
    runs `preexec_fn` before exec."""

    def __init__(self, base_dir: Path, preexec_fn: Callable[[], None] | None = None) -> None:
        self.base_dir, self.preexec_fn = base_dir, preexec_fn
        self.servers: list[RedisServer] = []

    def start(self, *args: str, port: int | None = None, data_dir: Path | None = None,
              conf: Path | None = None, password: str | None = None,
              tls: Certificates | None = None) -> RedisServer:
        directory = data_dir or self.base_dir / f"redis-{len(self.servers)}"
        server = RedisServer(directory, port=port, args=args, conf=conf, password=password,
                             tls=tls, preexec_fn=self.preexec_fn)
        self.servers.append(server)
        return server.start()

    def close(self) -> None:
        for server in self.servers:
            server.kill()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
