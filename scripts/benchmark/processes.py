"""The processes scripts/bench starts (redis-server, the service, the
baselines, Webdis, wrk, helpers: the harness's, scripts/harness/), what it
asks of them, and its own HTTP clients (not the load).

Each runs detached (stopped in order by the bench, and killed with it: see
scripts/harness/service_process.py), the server under test on a CPU of its
own (docs/performance.md, "How to run it"). Free loopback ports, never 6379.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path
from typing import Any, TypeVar

from scripts.benchmark import RESULT_MARK
from scripts.harness import ProcessError
from scripts.harness.ports import free_port
from scripts.harness.redis_server import RedisServer, RedisServers
from scripts.harness.service_process import (
    ChildProcess,
    CPUs,
    HttpProcess,
    ServiceProcess,
    child_setup,
    http,
)

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")
Child = TypeVar("Child", bound=ChildProcess)


class BenchError(ProcessError):
    """A process would not start or answer, or a measurement went wrong: the
    run cannot go on."""


def installed(binary: str) -> str:
    """The path of `binary`, of the Debian package of that name."""
    path = shutil.which(binary)
    if path is None:
        raise BenchError(f"{binary} is not installed: scripts/bench installs it when run as root "
                         f"(Debian: apt-get install {binary})")
    return path


def http_json(url: str, post: Any = None) -> tuple[int, Any]:
    """`http()`'s status and parsed JSON body (None when there is none); `post`
    is sent as JSON, by POST."""
    request: dict[str, Any] = {} if post is None else {
        "method": "POST", "body": json.dumps(post).encode(),
        "headers": {"Content-Type": "application/json"}}
    status, _, raw = http(url, **request)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


class Connection:
    """One keep-alive HTTP/1.1 connection to a local server, requests one after
    another; `call()` answers as `http()` does, checked against `expect`."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.connection = HTTPConnection("127.0.0.1", port, timeout=timeout)

    def call(self, method: str, path: str, body: bytes | None = None,
             expect: int | None = None) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        answer = response.status, dict(response.getheaders()), response.read()
        if expect is not None and answer[0] != expect:
            raise BenchError(f"{method} {path} answered {answer[0]}, expected {expect}: "
                             f"{answer[2][:200]!r}")
        return answer

    def close(self) -> None:
        self.connection.close()


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
    return [sys.executable, "-m", f"scripts.benchmark.{module}", *args]


def module_env(*first: Path) -> dict[str, str]:
    """This environment with `first`, then this checkout, ahead on PYTHONPATH."""
    inherited = os.environ.get("PYTHONPATH", "")
    path = [str(p) for p in (*first, ROOT)] + ([inherited] if inherited else [])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(path)}


def result(process: ChildProcess, deadline_s: float) -> dict[str, Any]:
    """The one result line a helper printed (scripts.benchmark.emit), once it exited."""
    assert process.process is not None
    try:
        process.process.wait(timeout=deadline_s)
    except BaseException:
        process.kill()
        raise
    # The last one: a log is appended to, never one run's alone.
    for line in reversed(process.log().splitlines()):
        if line.startswith(RESULT_MARK):
            parsed: dict[str, Any] = json.loads(line[len(RESULT_MARK):])
            return parsed
    raise BenchError(f"{process.name} gave no result: {process.log_tail()}")


class Processes(RedisServers):
    """Everything the run started, stopped by `close()`; a `RedisServers`
    group, so the harness's Sentinel and Cluster set-ups start theirs here."""

    def __init__(self, run_dir: Path, service_root: Path = ROOT,
                 placement: Placement | None = None) -> None:
        self.placement = placement or Placement()
        # redis-server beside the load generator.
        super().__init__(run_dir, preexec_fn=child_setup(self.placement.others))
        self.run_dir, self.service_root = run_dir, service_root
        self.started: list[ChildProcess] = []

    def redis(self, name: str, *args: str) -> RedisServer:
        """redis-server in run_dir/name; `args` come last (--replicaof...)."""
        return self.start(*args, data_dir=self.run_dir / name)

    def helper(self, module: str, *args: str, root: Path | None = None) -> ChildProcess:
        """`python -m scripts.benchmark.<module>` beside the servers (output in its
        log, its figures `result()`); with `root`, on the server CPU, that
        checkout its cwd and first on its path."""
        return self.launch(ChildProcess(
            module_argv(module, *args), self.run_dir / f"{module}.log", env=module_env(
                *([root] if root else [])), cwd=root, detached=True,
            cpus=self.placement.servers if root else self.placement.others))

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
                wait: bool = True, prefix: Sequence[str] = ()) -> ServiceProcess:
        """`python -m service` (after `prefix`: valgrind...) from `root`, the
        machine's own settings left out; with wait=False, call
        wait_answering() later, or give it to `ready()`."""
        return self.launch(ServiceProcess(
            {"LOG_LEVEL": "WARNING", **env}, self.run_dir / f"{name}.log",
            [*prefix, sys.executable, "-m", "service"], clean=True,
            cwd=root or self.service_root, cpus=self.placement.servers, detached=True), wait)

    def baseline(self, name: str, mode: str, *args: str, wait: bool = True,
                 prefix: Sequence[str] = ()) -> HttpProcess:
        """A bare handler of baselines.py; wait and prefix as for service()."""
        port = free_port()
        return self.http_server(name, [*prefix, *module_argv(
            "baselines", mode, "--port", str(port), *args)], "/ping", port, module_env(), wait)

    def http_server(self, name: str, argv: Sequence[str], probe_path: str, port: int,
                    env: Mapping[str, str] | None = None, wait: bool = True) -> HttpProcess:
        """`argv` on the server CPU: a server answering `probe_path` on `port`."""
        return self.launch(HttpProcess(argv, self.run_dir / f"{name}.log", probe_path, port=port,
                                       env=env, cpus=self.placement.servers, detached=True), wait)

    def launch(self, process: Child, wait: bool = True) -> Child:
        self.started.append(process)
        process.spawn()
        if wait and isinstance(process, HttpProcess):
            process.wait_answering()
        return process

    def close(self) -> None:
        for process in reversed(self.started):
            # Stop the others whatever this one does; the parent-death
            # signal is the backstop for a process that would not stop.
            with contextlib.suppress(Exception):
                process.stop()
        self.started.clear()
        super().close()


def ready(*services: ServiceProcess) -> tuple[ServiceProcess, ...]:
    """Services started with wait=False, once each answers and its link is ready."""
    for service in services:
        service.wait_answering()
        service.wait_ready()
    return services
