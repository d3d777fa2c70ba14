"""The fleet under test: one redis-server and N service processes, all stopped
on close whatever happened (an exception, Ctrl-C, SIGTERM in the caller).

Both come from the tests' one harness (`scripts/harness/redis_server.py`,
`scripts/harness/service_process.py`), on free loopback ports, never the
machine's 6379. Redis runs with AOF and appendfsync always, so a SIGKILL
loses nothing it acknowledged. The services connect at start-up, reconnect
fast (backoff 50 ms to 200 ms, an idle PING every 100 ms) and keep a journal
large enough that a long soak drops no event; everything else is the
production default (the 250 ms command budget included).
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from scripts.harness.redis_server import RedisServer, RedisServers
from scripts.harness.service_process import ServiceProcess, http_get
from scripts.harness.waiting import wait_for

__all__ = ["Fleet", "FleetError", "JOURNAL_CAPACITY", "SERVICE_ENV"]

JOURNAL_CAPACITY = 100_000
READY_TIMEOUT_S = 15.0
REDIS_ARGS = ("--appendonly", "yes", "--appendfsync", "always")
SERVICE_ENV = {
    "REDIS_LAZY_CONNECT": "false",
    "REDIS_BACKOFF_BASE_MS": "50",
    "REDIS_BACKOFF_MAX_MS": "200",
    "REDIS_HEALTH_CHECK_INTERVAL_MS": "100",
    "REDIS_CONNECT_TIMEOUT_MS": "1000",
    "REDIS_RECONNECT_INTERVAL_MS": "300",
    "JOURNAL_CAPACITY": str(JOURNAL_CAPACITY),
    "LOG_LEVEL": "WARNING",
}
INTERRUPTS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


class FleetError(RuntimeError):
    """A process would not start or become ready: the run cannot go on."""


class Fleet:
    """`with Fleet(dir, instances) as fleet:` starts Redis, then the services."""

    def __init__(self, run_dir: Path, instances: int, *, state_dirs: bool = False) -> None:
        self.run_dir = run_dir
        # Each instance keeps its outage writes in a directory of its own
        # (CACHE_STATE_DIR), kept across its restarts (scripts/soak/restarts.py).
        self.state_dirs = state_dirs
        self.names = [chr(ord("a") + i) for i in range(instances)]
        self._servers = RedisServers(run_dir / "redis")
        self.services: dict[str, ServiceProcess] = {}

    @property
    def redis(self) -> RedisServer:
        return self._servers.servers[0]

    @property
    def urls(self) -> dict[str, str]:
        return {name: service.base_url for name, service in self.services.items()}

    def __enter__(self) -> Self:
        # Deferred while starting: an interrupt that lands inside Popen, after
        # the fork, leaves a child no one recorded (and so no one stops). Not
        # blocked: a child inherits the signal mask across exec, and services
        # started with SIGTERM blocked never saw the fleet's graceful stop (each
        # close waited 5 s, then SIGKILLed). A caught signal is reset at exec.
        arrived: list[int] = []
        previous = {signum: signal.signal(signum, lambda n, _f: arrived.append(n))
                    for signum in INTERRUPTS}
        try:
            try:
                self._start()
            finally:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
                if arrived:
                    signal.raise_signal(arrived[0])  # lands now, in the restored handler
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> None:
        try:
            redis = self._servers.start(*REDIS_ARGS)
        except RuntimeError as exc:
            raise FleetError(str(exc)) from exc
        self._start_services({"REDIS_URL": redis.url})

    def _start_services(self, redis_env: dict[str, str],
                        meanwhile: Callable[[], None] = lambda: None) -> None:
        """Every instance, with `redis_env` saying where Redis is, started side
        by side (`meanwhile` runs while they start); then ready."""
        for name in self.names:
            wanted = {**SERVICE_ENV, **redis_env}
            if self.state_dirs:
                wanted["CACHE_STATE_DIR"] = str(self.run_dir / f"state-{name}")
            service = ServiceProcess(wanted, self.run_dir / f"service-{name}.log", clean=True)
            self.services[name] = service
            service.spawn()
        meanwhile()
        try:
            for service in self.services.values():
                service.wait_answering()
        except RuntimeError as exc:
            raise FleetError(str(exc)) from exc
        for name in self.names:
            self.wait_ready(name)

    def wait_ready(self, name: str) -> None:
        """Until the instance's link is `ready` (it connects at start-up)."""
        self.wait_state(name, lambda state: state == "ready", "ready")

    def wait_state(self, name: str, wanted: Callable[[str], bool], what: str = "left ready"
                   ) -> None:
        wait_for(lambda: wanted(self.journal(name)["state"]), READY_TIMEOUT_S,
                 f"instance {name}: Redis link {what}", error=FleetError)

    def stop(self, name: str, how: str) -> None:
        """SIGTERM (graceful, waited for) or SIGKILL the instance."""
        service = self.services[name]
        if how == "SIGTERM":
            service.terminate(timeout=READY_TIMEOUT_S)
        else:
            service.kill()

    def restart(self, name: str, *, ready: bool = True) -> None:
        """Start the stopped instance again: same port, same state directory,
        a new log; returns once it answers (and, with `ready`, once its link
        is ready)."""
        service = self.services[name]
        starts = len(list(self.run_dir.glob(f"service-{name}*.log")))
        service.log_path = self.run_dir / f"service-{name}-{starts}.log"
        try:
            service.start()
        except RuntimeError as exc:
            raise FleetError(str(exc)) from exc
        if ready:
            self.wait_ready(name)

    def journal(self, name: str) -> dict[str, Any]:
        """The instance's whole /health/events answer."""
        url = f"{self.services[name].base_url}/health/events?limit={JOURNAL_CAPACITY}"
        status, body = http_get(url)
        if status != 200:
            raise FleetError(f"instance {name}: /health/events answered {status}")
        parsed: dict[str, Any] = json.loads(body)
        return parsed

    def close(self) -> None:
        """Services first (SIGTERM, then SIGKILL if they linger), then Redis."""
        for service in self.services.values():
            with contextlib.suppress(Exception):
                service.stop(timeout=5.0)
        self._servers.close()
