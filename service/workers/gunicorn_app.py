"""WORKERS > 1: gunicorn's arbiter runs the workers on the one port.

gunicorn opens the listening socket once and forks WORKERS processes that
all accept on it (no SO_REUSEPORT: a connection waiting in the queue is
taken by whichever worker is free, and none is lost when a worker restarts).
The arbiter restarts a worker that dies, passes SIGTERM on and exits 0 when
all have finished. What this module adds to it:

- options from the service's settings, not gunicorn's command line:
  graceful_timeout covers SHUTDOWN_DRAIN_MS + SHUTDOWN_TIMEOUT_MS (then the
  arbiter kills what is left), gunicorn's control socket is off (its
  default path is shared by every instance of a user), its log lines go
  through the service's handlers (LOG_FORMAT);
- the instance's temporary directory (mode 0700, under WORKER_TMP_DIR):
  gunicorn's heartbeat files and the workers' sockets for each other; it
  must be writable, so on a read-only root it is an emptyDir or /dev/shm;
- slots: each worker gets the lowest free number 0..WORKERS-1 before the
  fork, so a restarted worker keeps its predecessor's `worker` label;
- SIGHUP is passed on to the workers (they re-read CACHE_API_TOKEN_FILE)
  instead of gunicorn's reload, which would replace every worker and lose
  the overlap of the previous token; SIGINT drains like SIGTERM.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

from service.config import Settings
from service.eventloop import loop_in_use
from service.workers.worker import WORKER_SIGNALS

log = logging.getLogger("roleready.workers")
WORKER_CLASSES = {
    "uvloop": "service.workers.worker.ServiceUVLoopWorker",
    "asyncio": "service.workers.worker.ServiceWorker",
}
# The instance's directory: this, the arbiter's pid, a random part.
DIRECTORY_PREFIX = "roleready-cache-"
# Beyond the drain and the requests' time: closing Redis and the peers' socket.
CLOSING_MARGIN_S = 5


def run_workers(settings: Settings) -> int:
    """Serve until SIGTERM with gunicorn; the arbiter's exit code."""
    base = tmp_base(settings)
    arbiter_pid = os.getpid()
    sweep_stale(Path(base or tempfile.gettempdir()))
    directory = Path(tempfile.mkdtemp(prefix=f"{DIRECTORY_PREFIX}{arbiter_pid}-", dir=base))
    try:
        ServiceArbiter(ServiceApplication(settings, directory)).run()
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    finally:
        # A worker leaves gunicorn by SystemExit through this frame too.
        if os.getpid() == arbiter_pid:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


def sweep_stale(base: Path) -> None:
    """Removes the directories of arbiters that are gone (SIGKILLed ones
    could not remove their own), leaving any whose process still runs."""
    for directory in base.glob(f"{DIRECTORY_PREFIX}*-*"):
        pid = directory.name[len(DIRECTORY_PREFIX):].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            if directory.stat().st_uid == os.geteuid():
                shutil.rmtree(directory)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def tmp_base(settings: Settings) -> str | None:
    """WORKER_TMP_DIR, else /dev/shm when writable (gunicorn's advice for
    containers: a RAM-backed heartbeat), else the system temp dir."""
    if settings.worker_tmp_dir:
        return settings.worker_tmp_dir
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def gunicorn_options(settings: Settings, directory: Path) -> dict[str, Any]:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return {
        "bind": [f"{host}:{settings.port}"],
        "workers": settings.workers,
        "worker_class": WORKER_CLASSES[loop_in_use(settings.event_loop)],
        "graceful_timeout": math.ceil(
            (settings.shutdown_drain_ms + settings.shutdown_timeout_ms) / 1000) + CLOSING_MARGIN_S,
        "worker_tmp_dir": str(directory),
        "control_socket_disable": True,
        "logger_class": "service.workers.gunicorn_app.ServiceLogger",
        "loglevel": logging.getLevelName(logging.getLogger().level).lower(),
        "proc_name": "roleready-cache",
        "pre_fork": assign_slot,
    }


def assign_slot(arbiter: Arbiter, worker: Any) -> None:
    """The lowest slot no living worker holds (the arbiter's pre_fork hook)."""
    taken = {getattr(other, "slot", None) for other in arbiter.WORKERS.values()}
    worker.slot = next(slot for slot in range(len(taken) + 1) if slot not in taken)


class ServiceApplication(BaseApplication):
    """gunicorn's application object: the settings and the directory, which
    the workers read after the fork; the aiohttp app is built there."""

    def __init__(self, settings: Settings, directory: Path) -> None:
        self.settings = settings
        self.directory = directory
        super().__init__()

    def load_config(self) -> None:
        for name, value in gunicorn_options(self.settings, self.directory).items():
            self.cfg.set(name, value)

    def load(self) -> None:
        return None  # ServiceWorker builds the app itself


class ServiceArbiter(Arbiter):
    def spawn_worker(self) -> int:
        # The child unblocks them in its init_signals (worker.WORKER_SIGNALS);
        # the child never returns here (gunicorn exits it), this process does.
        signal.pthread_sigmask(signal.SIG_BLOCK, WORKER_SIGNALS)
        try:
            return int(super().spawn_worker())
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, WORKER_SIGNALS)

    def handle_hup(self) -> None:
        log.info("SIGHUP: passed on to the workers")
        self.kill_workers(signal.SIGHUP)

    def handle_int(self) -> None:
        raise StopIteration  # as SIGTERM: drain, not gunicorn's quick exit


class ServiceLogger(Logger):
    """gunicorn's lines through the service's own handlers (text or JSON)."""

    def setup(self, cfg: Any) -> None:
        self.cfg = cfg
        self.error_log.propagate = True
        self.error_log.setLevel(self.LOG_LEVELS.get(cfg.loglevel.lower(), logging.INFO))
        self.access_log.disabled = True
