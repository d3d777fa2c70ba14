"""The processes scripts/bench starts (redis-server from scripts/harness/,
the service, the baselines, Webdis, wrk, helpers) and what it asks of them.

Each runs in its own session (a Ctrl-C at the terminal reaches only the
bench, which stops them in order), with a parent-death signal (it dies with
the bench even when the bench is killed outright) and a CPU placement: the
server under test gets the first CPU to itself, everything else the others
(a single-threaded server moved between the cores it shared with wrk made
runs differ by a third). Servers listen on free loopback ports, never 6379.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from scripts.benchmark import RESULT_MARK
from scripts.benchmark.client import BenchError, http, http_json
from scripts.harness.ports import free_port
from scripts.harness.redis_server import RedisServer, RedisServers
from scripts.harness.tls import Certificates
from scripts.harness.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 15.0
READY_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 10.0
# Variables the service reads: the machine's own values never leak into a run.
SERVICE_VARIABLE_PREFIXES = ("REDIS_", "CACHE_")
SERVICE_VARIABLES = ("HOST", "PORT", "LOG_LEVEL", "JOURNAL_CAPACITY", "SHUTDOWN_DRAIN_MS",
                     "SHUTDOWN_TIMEOUT_MS", "WORKERS", "EVENT_LOOP", "WORKER_TMP_DIR")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1
CPUs = frozenset[int] | None
T = TypeVar("T")


def child_setup(cpus: CPUs) -> Callable[[], None]:
    """What a child runs before exec: SIGKILL when the bench dies, stay on `cpus`."""

    def setup() -> None:
        with contextlib.suppress(OSError, AttributeError):  # not Linux: close() stops it
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


@dataclass(frozen=True)
class Placement:
    """Which CPUs the servers under test get, and which everything else gets."""

    servers: CPUs = None
    others: CPUs = None

    @classmethod
    def choose(cls, pin: bool) -> Placement:
        cpus = sorted(os.sched_getaffinity(0))
        if not pin or len(cpus) < 2:
            return cls()
        return cls(frozenset(cpus[:1]), frozenset(cpus[1:]))

    def describe(self) -> str:
        if self.servers is None or self.others is None:
            return "not pinned"
        return (f"server under test on CPU {','.join(map(str, sorted(self.servers)))}; "
                f"redis-server and load generator on CPU {','.join(map(str, sorted(self.others)))}")


def module_argv(module: str, *args: str) -> list[str]:
    """`python -m scripts.benchmark.<module> ...`: run it with `module_env()`."""
    return [sys.executable, "-m", f"scripts.benchmark.{module}", *args]


def module_env(*first: Path) -> dict[str, str]:
    """This environment with `first`, then this checkout, ahead on PYTHONPATH."""
    inherited = os.environ.get("PYTHONPATH", "")
    path = [str(p) for p in (*first, ROOT)] + ([inherited] if inherited else [])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


class Process:
    """One child process with a log file in the run's directory: a server,
    a load generator or a helper that prints one result line (`result()`)."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, *,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 cpus: CPUs = None) -> None:
        self.name, self.argv, self.log_path = name, list(argv), log_path
        self.env, self.cwd, self.cpus = (dict(env) if env is not None else None), cwd, cpus
        self.popen: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=child_setup(self.cpus),  # noqa: PLW1509
            )

    def result(self, deadline_s: float) -> dict[str, Any]:
        """The one result line it printed (scripts.benchmark.emit), once it exited."""
        assert self.popen is not None
        try:
            self.popen.wait(timeout=deadline_s)
        except BaseException:
            self.kill()
            raise
        # The last one: a log is appended to, never one run's alone.
        for line in reversed(self.log_path.read_text(errors="replace").splitlines()):
            if line.startswith(RESULT_MARK):
                parsed: dict[str, Any] = json.loads(line[len(RESULT_MARK):])
                return parsed
        raise BenchError(f"{self.name} gave no result: {self.log_tail()}")

    def kill(self) -> None:
        if self.popen is not None and self.running:
            self.popen.kill()
            self.popen.wait()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (a paused process is woken first); SIGKILL when it won't exit."""
        if self.popen is None or not self.running:
            return
        for signum in (signal.SIGCONT, signal.SIGTERM):
            os.kill(self.popen.pid, signum)
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def cpu_seconds(self) -> float:
        """User + system CPU time the process and its living children (a
        service's workers, with WORKERS > 1) have used so far (Linux /proc)."""
        assert self.popen is not None
        pid, total = self.popen.pid, 0.0
        for entry in os.listdir("/proc"):
            with contextlib.suppress(OSError, ValueError, IndexError):  # it ended meanwhile
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(entry) == pid or fields[1] == str(pid):
                    # utime and stime: the 14th and 15th fields of stat, 12th and 13th here.
                    total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return total

    def log_tail(self, lines: int = 8) -> str:
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class HttpProcess(Process):
    """An HTTP server child (the service, a baseline, Webdis) on a free port."""

    def __init__(self, name: str, argv: Sequence[str], log_path: Path, probe_path: str, *,
                 port: int | None = None, **more: Any) -> None:
        self.port, self.probe_path = port or free_port(), probe_path
        super().__init__(name, argv, log_path, **more)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_answering(self, timeout_s: float = START_TIMEOUT_S) -> None:
        def answers() -> bool:
            if not self.running:
                raise BenchError(f"{self.name} exited at start-up:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                return http(self.url + self.probe_path, timeout=0.5)[0] == 200
            return False

        wait_for(answers, timeout_s, f"{self.name} answering {self.probe_path}",
                 every=0.005, error=BenchError)

    def wait_ready(self, healthy: bool = False) -> None:
        """Until its Redis link is ready (/api/status); with `healthy`, until
        /health/detailed says healthy (with workers: every worker's link)."""
        def ready() -> bool:
            status, body = http_json(self.url + ("/health/detailed" if healthy else "/api/status"))
            return status == 200 and (body["status"] == "healthy" if healthy
                                      else body["redis"]["state"] == "ready")

        wait_for(ready, READY_TIMEOUT_S, f"{self.name}: Redis link ready", error=BenchError)


class Processes(RedisServers):
    """Everything the run started, stopped in reverse order by `close()`; a
    `RedisServers` group of scripts/harness/, so its Sentinel and Cluster
    set-ups start their servers here.

    The service runs as `python -m service` from `service_root` (this checkout
    by default; another one to compare two trees on the same machine).
    """

    def __init__(self, run_dir: Path, service_root: Path = ROOT,
                 placement: Placement | None = None) -> None:
        super().__init__(run_dir)
        self.run_dir, self.service_root = run_dir, service_root
        self.placement = placement or Placement()
        self.started: list[Process | RedisServer] = []

    def start(self, *args: str, port: int | None = None, data_dir: Path | None = None,
              conf: Path | None = None, password: str | None = None,
              tls: Certificates | None = None) -> RedisServer:
        """redis-server beside the load generator; failing to start is a BenchError."""
        server = RedisServer(data_dir or self.run_dir / f"redis-{len(self.started)}", port=port,
                             args=args, conf=conf, password=password, tls=tls,
                             preexec_fn=child_setup(self.placement.others))
        self.started.append(server)
        try:
            return server.start()
        except RuntimeError as exc:
            raise BenchError(str(exc)) from exc

    def redis(self, name: str, *args: str) -> RedisServer:
        """redis-server in run_dir/name; `args` come last (--replicaof...)."""
        return self.start(*args, data_dir=self.run_dir / name)

    def helper(self, name: str, module: str, *args: str, root: Path | None = None) -> Process:
        """`python -m scripts.benchmark.<module>` beside the servers (output in its
        log); with `root`, on the server CPU, that checkout its cwd and first on its path."""
        process = Process(name, module_argv(module, *args), self.run_dir / f"{name}.log",
                          env=module_env(*([root] if root else [])), cwd=root,
                          cpus=self.placement.servers if root else self.placement.others)
        self.started.append(process)
        process.spawn()
        return process

    def in_group(self, name: str, run: Callable[[Processes], T],
                 placement: Placement | None = None) -> T:
        """`run` with a group of its own under run_dir/name, stopped after it."""
        (self.run_dir / name).mkdir(parents=True, exist_ok=True)
        group = Processes(self.run_dir / name, self.service_root, placement or self.placement)
        try:
            return run(group)
        finally:
            group.close()

    def service(self, name: str, env: Mapping[str, str], root: Path | None = None, *,
                wait: bool = True, prefix: Sequence[str] = ()) -> HttpProcess:
        """`python -m service` (after `prefix`: valgrind...); with wait=False,
        call wait_answering() later, or give it to `ready()`."""
        port = free_port()
        full_env = {**{name: value for name, value in os.environ.items()  # no PYTHONPATH:
                       if name not in (*SERVICE_VARIABLES, "PYTHONPATH")  # the service comes
                       and not name.startswith(SERVICE_VARIABLE_PREFIXES)},  # from its cwd
                    "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "WARNING",
                    "SHUTDOWN_DRAIN_MS": "0", **env}
        return self.launch(HttpProcess(
            name, [*prefix, sys.executable, "-m", "service"], self.run_dir / f"{name}.log",
            "/health", env=full_env, port=port, cwd=root or self.service_root,
            cpus=self.placement.servers), wait)

    def baseline(self, name: str, mode: str, *args: str, wait: bool = True,
                 prefix: Sequence[str] = ()) -> HttpProcess:
        """A bare handler of baselines.py; wait and prefix as for service()."""
        port = free_port()
        argv = [*prefix, *module_argv("baselines", mode, "--port", str(port), *args)]
        return self.launch(HttpProcess(name, argv, self.run_dir / f"{name}.log", "/ping",
                                       port=port, env=module_env(), cpus=self.placement.servers),
                           wait)

    def launch(self, process: HttpProcess, wait: bool = True) -> HttpProcess:
        self.started.append(process)
        process.spawn()
        if wait:
            process.wait_answering()
        return process

    def close(self) -> None:
        for process in reversed(self.started):
            # Stop the others whatever this one does; the parent-death
            # signal is the backstop for a process that would not stop.
            with contextlib.suppress(Exception):
                process.stop()
        self.started.clear()


def ready(*services: HttpProcess) -> tuple[HttpProcess, ...]:
    """Services started with wait=False, once each answers and its link is ready."""
    for service in services:
        service.wait_answering()
        service.wait_ready()
    return services
