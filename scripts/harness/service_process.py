"""Child processes: any command with its log file (`ChildProcess`), an HTTP
server on a free port (`HttpProcess`), and the real service among them
(`ServiceProcess`: `python -m service`). The tests, the soak and the
benchmark (its servers, wrk, its helpers) all start theirs here.

A child may be pinned to some CPUs (`cpus`) and report the CPU time it and
its children have used (`cpu_seconds()`, for the benchmark's CPU per
request). A `detached` one runs in a session of its own (a Ctrl-C at the
terminal reaches only the parent, which stops it in order) with a
parent-death signal: it dies with the thread that started it even when the
parent is killed outright; so only a parent that starts its children from
one long-lived thread (the benchmark) asks for it.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Self

from scripts.harness import ProcessError
from scripts.harness.ports import free_port
from scripts.harness.waiting import wait_for

START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 10.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PR_SET_PDEATHSIG = 1
CPUs = frozenset[int] | None
# Variables the service reads: with `clean`, the machine's own never reach it.
SERVICE_VARIABLE_PREFIXES = ("REDIS_", "CACHE_")
SERVICE_VARIABLES = ("HOST", "PORT", "LOG_LEVEL", "JOURNAL_CAPACITY", "SHUTDOWN_DRAIN_MS",
                     "SHUTDOWN_TIMEOUT_MS", "WORKERS", "EVENT_LOOP", "WORKER_TMP_DIR")


def http(url: str, *, method: str = "GET", body: bytes | None = None,
         headers: Mapping[str, str] | None = None,
         timeout: float = 2.0) -> tuple[int, dict[str, str], bytes]:
    """One request with the standard library: (status, headers, body)."""
    request = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def http_get(url: str, timeout: float = 2.0, token: str | None = None) -> tuple[int, bytes]:
    """GET `url`, with `token` as the bearer token when given."""
    status, _, body = http(url, timeout=timeout,
                           headers={"Authorization": f"Bearer {token}"} if token else None)
    return status, body


def link_state(service: ServiceProcess, token: str | None = None) -> str:
    """The Redis link's state as the service's /api/status tells it (`token`:
    a service with tokens answers it to the observe right only)."""
    status, body = http_get(service.base_url + "/api/status", token=token)
    assert status == 200
    state: str = json.loads(body)["redis"]["state"]
    return state


def child_setup(cpus: CPUs, *, die_with_parent: bool = True) -> Callable[[], None]:
    """What a child runs before exec: SIGKILL when the parent dies, stay on `cpus`."""

    def setup() -> None:
        if die_with_parent:
            with contextlib.suppress(OSError, AttributeError):  # not Linux: close() stops it
                ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


class ChildProcess:
    """One command, its output appended to `log_path`; `spawn()` it."""

    def __init__(self, argv: Sequence[str], log_path: Path, *, name: str | None = None,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 cpus: CPUs = None, detached: bool = False) -> None:
        self.argv, self.log_path, self.name = list(argv), log_path, name or log_path.stem
        self.env, self.cwd, self.cpus = (dict(env) if env is not None else None), cwd, cpus
        self.detached = detached
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        setup = (child_setup(self.cpus, die_with_parent=self.detached)
                 if self.detached or self.cpus else None)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, cwd=self.cwd, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=self.detached,
                preexec_fn=setup,  # noqa: PLW1509 (the callers start no threads meanwhile)
            )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 8) -> str:
        return "\n".join(self.log().splitlines()[-lines:]) or "(no log)"

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM (graceful) and its exit code; TimeoutExpired when it won't exit."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM (a paused process is woken first); SIGKILL when it won't exit."""
        if self.process is None or not self.running:
            return
        self.process.send_signal(signal.SIGCONT)
        try:
            self.terminate(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def cpu_seconds(self) -> float:
        """User + system CPU time the process and its living children (a
        service's workers, with WORKERS > 1) have used so far (Linux /proc)."""
        assert self.process is not None
        pid, total = self.process.pid, 0.0
        for entry in os.listdir("/proc"):
            with contextlib.suppress(OSError, ValueError, IndexError):  # it ended meanwhile
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                if int(entry) == pid or fields[1] == str(pid):
                    # utime and stime: the 14th and 15th fields of stat, 12th and 13th here.
                    total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return total


class HttpProcess(ChildProcess):
    """An HTTP server child on `port` (a free one by default); `start()`
    returns once `probe_path` answers 200."""

    def __init__(self, argv: Sequence[str], log_path: Path, probe_path: str, *,
                 port: int | None = None, name: str | None = None,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 cpus: CPUs = None, detached: bool = False) -> None:
        self.port, self.probe_path = port or free_port(), probe_path
        super().__init__(argv, log_path, name=name, env=env, cwd=cwd, cpus=cpus,
                         detached=detached)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT_S) -> Self:
        self.spawn()
        self.wait_answering(timeout)
        return self

    def wait_answering(self, timeout: float = START_TIMEOUT_S) -> None:
        def answers() -> bool:
            if not self.running:
                raise ProcessError(f"{self.name} exited at start-up")
            with contextlib.suppress(OSError):
                return http(self.base_url + self.probe_path, timeout=0.5)[0] == 200
            return False

        try:
            wait_for(answers, timeout, f"{self.name} answering {self.probe_path}",
                     every=0.005, error=ProcessError)
        except ProcessError as exc:
            self.kill()
            raise ProcessError(f"{exc}:\n{self.log_tail()}") from None


class ServiceProcess(HttpProcess):
    """The service on a free port: start with `start()`, stop with
    `terminate()` (SIGTERM, graceful).

    `command` runs instead of `python -m service` (the README's `scripts/run`,
    or the service under valgrind); `cwd`, the checkout to run it from.
    `clean`: the machine's own REDIS_*/CACHE_* and other service settings do
    not reach it, nor (with `cwd`) PYTHONPATH: the service is cwd's.
    """

    def __init__(self, env: Mapping[str, str], log_path: Path,
                 command: Sequence[str] | None = None, *, clean: bool = False,
                 cwd: Path | None = None, cpus: CPUs = None, detached: bool = False) -> None:
        port = free_port()
        dropped = (*SERVICE_VARIABLES, *(["PYTHONPATH"] if cwd else [])) if clean else ()
        inherited = {name: value for name, value in os.environ.items() if name not in dropped
                     and not (clean and name.startswith(SERVICE_VARIABLE_PREFIXES))}
        super().__init__(command or [sys.executable, "-m", "service"], log_path, "/health",
                         port=port, env={
                             **inherited, "HOST": "127.0.0.1", "PORT": str(port),
                             "LOG_LEVEL": "INFO",
                             # Tests stop many services: no load balancer to
                             # drain for, unless a test asks for it.
                             "SHUTDOWN_DRAIN_MS": "0", **env},
                         cwd=cwd, cpus=cpus, detached=detached)

    def wait_ready(self, healthy: bool = False, timeout: float = 20.0) -> None:
        """Until its Redis link is ready (/api/status); with `healthy`, until
        /health/detailed says healthy (with workers: every worker's link)."""
        def ready() -> bool:
            status, _, body = http(self.base_url + ("/health/detailed" if healthy
                                                    else "/api/status"))
            answer = json.loads(body) if status == 200 else {}
            return bool(answer.get("status") == "healthy" if healthy
                        else answer.get("redis", {}).get("state") == "ready")

        wait_for(ready, timeout, f"{self.name}: Redis link ready", error=ProcessError)
