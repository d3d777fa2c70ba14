"""The processes scripts/bench starts: redis-server (through the tests' harness,
tests/support/redis_server.py), the service, the baselines.

Every process is started through one `Processes` group, in its own session
(so a Ctrl-C at the terminal reaches only the bench, which then stops them
in order) and with a parent-death signal (so they die with the bench even
when it is killed outright). `Processes.close()` stops everything it
started, paused servers included; scripts/bench calls it on every exit path.
Servers listen on free loopback ports, never on the machine's 6379.
"""

from __future__ import annotations

import contextlib
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
from typing import Any

from scripts.benchmark.placement import CPUs, Placement, child_setup
from tests.support.ports import free_port
from tests.support.redis_server import RedisServer

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 15.0
# Variables the service reads: the machine's own values never leak into a run.
SERVICE_VARIABLE_PREFIXES = ("REDIS_", "CACHE_")
SERVICE_VARIABLES = ("HOST", "PORT", "LOG_LEVEL", "JOURNAL_CAPACITY", "SHUTDOWN_DRAIN_MS",
                     "SHUTDOWN_TIMEOUT_MS", "WORKERS", "EVENT_LOOP", "WORKER_TMP_DIR")
STOP_TIMEOUT_S = 10.0
# A cluster node's bus listens on its port + 10000, which must be a valid port.
CLUSTER_BUS_OFFSET = 10000
CLUSTER_PORT_MAX = 65535 - CLUSTER_BUS_OFFSET
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """A process would not start or answer: the run cannot go on."""


def http_json(url: str, *, method: str = "GET", body: bytes | None = None,
              headers: Mapping[str, str] | None = None, timeout: float = 2.0) -> tuple[int, Any]:
    """One request with the standard library; (status, parsed JSON or None)."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def _scrubbed_environ() -> dict[str, str]:
    # No PYTHONPATH either: the service is imported from its own checkout (cwd).
    return {
        name: value for name, value in os.environ.items()
        if name not in (*SERVICE_VARIABLES, "PYTHONPATH")
        and not name.startswith(SERVICE_VARIABLE_PREFIXES)
    }


def module_argv(module: str, *args: str) -> list[str]:
    """`python -m scripts.benchmark.<module> ...`: run it with `module_env()`."""
    return [sys.executable, "-m", f"scripts.benchmark.{module}", *args]


def module_env(*first: Path) -> dict[str, str]:
    """This environment with `first`, then this checkout, ahead on PYTHONPATH."""
    inherited = os.environ.get("PYTHONPATH", "")
    path = [str(p) for p in (*first, ROOT)] + ([inherited] if inherited else [])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


class Process:
    """One child process with a log file in the run's directory."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, *,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 cpus: CPUs = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.cpus = cpus
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                # The bench runs no threads, so preexec_fn is safe here.
                stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=child_setup(self.cpus),  # noqa: PLW1509
            )

    def send(self, signum: signal.Signals) -> None:
        if self.running:
            assert self.popen is not None
            os.kill(self.popen.pid, signum)

    def stop(self, signum: signal.Signals = signal.SIGTERM) -> None:
        """Ask it to exit (a paused process is woken first); kill when it won't."""
        if not self.running:
            return
        assert self.popen is not None
        self.send(signal.SIGCONT)
        self.send(signum)
        try:
            self.popen.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=STOP_TIMEOUT_S)

    def cpu_seconds(self) -> float:
        """User + system CPU time the process and its living children (a
        service's workers, with WORKERS > 1) have used so far (Linux /proc)."""
        assert self.popen is not None
        pid = self.popen.pid
        return sum(_stat_cpu_seconds(fields) for child, fields in _stats()
                   if child == pid or fields[1] == str(pid))

    def log_tail(self, lines: int = 8) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_until(self, ready: Any, what: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready():
            if not self.running:
                raise BenchError(f"{self.name} exited at start-up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} did not {what} within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.005)


def _stats() -> list[tuple[int, list[str]]]:
    """Every process's /proc/<pid>/stat fields after the command name."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):  # it ended meanwhile
                text = Path(f"/proc/{entry}/stat").read_text()
                found.append((int(entry), text.rsplit(")", 1)[1].split()))
    return found


def _stat_cpu_seconds(fields: list[str]) -> float:
    # utime and stime: the 14th and 15th fields of stat, 12th and 13th here.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class RedisProcess(RedisServer):
    """The tests' redis-server harness (no persistence; kill, pause, resume,
    start again on the same port); failures to start are BenchErrors."""

    def start(self) -> RedisProcess:
        try:
            super().start()
        except RuntimeError as exc:
            raise BenchError(str(exc)) from exc
        return self


class HttpProcess(Process):
    """An HTTP server child (the service or a baseline) on a free port."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, probe_path: str, *,
                 env: Mapping[str, str] | None = None, port: int | None = None,
                 cwd: Path | None = None, cpus: CPUs = None) -> None:
        self.port = port or free_port()
        self.probe_path = probe_path
        super().__init__(name, argv, log_path, env=env, cwd=cwd, cpus=cpus)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.spawn()
        self.wait_answering()

    def wait_answering(self) -> None:
        self.wait_until(lambda: self._answers(self.probe_path), f"answer {self.probe_path}")

    def _answers(self, path: str) -> bool:
        try:
            return http_json(self.url + path, timeout=0.5)[0] == 200
        except OSError:
            return False


class Processes:
    """Everything the run started, stopped in reverse order by `close()`.

    The service runs as `python -m service` from `service_root` (this checkout
    by default; another one, e.g. `git archive` of an older commit, to compare
    before and after a change on the same machine).
    """

    def __init__(self, run_dir: Path, service_root: Path = ROOT,
                 placement: Placement | None = None) -> None:
        self.run_dir = run_dir
        self.service_root = service_root
        self.placement = placement or Placement()
        self.started: list[Process | RedisServer | Processes] = []

    def redis(self, name: str, *args: str, port: int | None = None,
              conf: Path | None = None) -> RedisProcess:
        """redis-server in run_dir/name; `args` come last (--replicaof, --sentinel...)."""
        server = RedisProcess(self.run_dir / name, port=port, args=args, conf=conf,
                              preexec_fn=child_setup(self.placement.others))
        self.started.append(server)
        server.start()
        return server

    def cluster_node(self, name: str, *args: str) -> RedisProcess:
        """redis-server on a port whose cluster bus port (+10000) is free and valid."""
        port = free_port(CLUSTER_PORT_MAX, also_free=(CLUSTER_BUS_OFFSET,))
        return self.redis(name, *args, port=port)

    def helper(self, name: str, module: str, *args: str) -> Process:
        """`python -m scripts.benchmark.<module>` beside the servers; output in its log."""
        process = Process(name, module_argv(module, *args), self.run_dir / f"{name}.log",
                          env=module_env(), cpus=self.placement.others)
        self.started.append(process)
        process.spawn()
        return process

    def group(self, name: str) -> Processes:
        """A group of its own under run_dir/name (closed by its user, or with this one)."""
        directory = self.run_dir / name
        directory.mkdir(parents=True, exist_ok=True)
        group = Processes(directory, self.service_root, self.placement)
        self.started.append(group)
        return group

    def service(self, name: str, env: Mapping[str, str], root: Path | None = None, *,
                wait: bool = True) -> HttpProcess:
        """`python -m service`; with wait=False, call wait_answering() later."""
        port = free_port()
        full_env = {**_scrubbed_environ(), "HOST": "127.0.0.1", "PORT": str(port),
                    "LOG_LEVEL": "WARNING", "SHUTDOWN_DRAIN_MS": "0", **env}
        process = HttpProcess(name, [sys.executable, "-m", "service"],
                              self.run_dir / f"{name}.log", "/health", env=full_env, port=port,
                              cwd=root or self.service_root, cpus=self.placement.servers)
        return self._launch(process, wait)

    def baseline(self, name: str, mode: str, *args: str, wait: bool = True) -> HttpProcess:
        """A bare handler of baselines.py; wait as for service()."""
        port = free_port()
        argv = module_argv("baselines", mode, "--port", str(port), *args)
        process = HttpProcess(name, argv, self.run_dir / f"{name}.log", "/ping", port=port,
                              env=module_env(), cpus=self.placement.servers)
        return self._launch(process, wait)

    def _launch(self, process: HttpProcess, wait: bool) -> HttpProcess:
        self.started.append(process)
        process.spawn()
        if wait:
            process.wait_answering()
        return process

    def stop(self) -> None:
        self.close()

    def close(self) -> None:
        for process in reversed(self.started):
            # Stop the others whatever this one does; the parent-death
            # signal is the backstop for a process that would not stop.
            with contextlib.suppress(Exception):
                process.stop()
        self.started.clear()
