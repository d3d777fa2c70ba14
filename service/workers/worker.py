"""One gunicorn worker: this service's app, runner, drain, SIGHUP and heartbeat.

aiohttp's GunicornWebWorker (asyncio's loop) and GunicornUVLoopWebWorker
(uvloop) start the loop, take the listening sockets gunicorn shares between
its workers, and answer gunicorn's signals. What they do not do, this does:

- the app is this service's, built in the worker after the fork (each worker
  has its own Redis link, memory tier and registry), served with the same
  runner options as one process (service.server.make_runner);
- SIGTERM and SIGINT drain: readiness answers 503 for SHUTDOWN_DRAIN_MS while
  the worker still serves on the shared socket, then the runner closes (in
  progress requests get SHUTDOWN_TIMEOUT_MS) and the worker exits 0;
  gunicorn's own worker closes at once (SIGQUIT, the arbiter's quick stop,
  still does: no drain);
- SIGHUP (forwarded by the arbiter) re-reads CACHE_API_TOKEN_FILE and
  CACHE_API_TOKENS_FILE;
- the heartbeat gunicorn watches (a file's ctime, every second) goes on
  during the drain, and a worker whose arbiter died stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from aiohttp import web
from aiohttp.worker import GunicornUVLoopWebWorker, GunicornWebWorker

from service import appkeys, telemetry
from service.app import create_app
from service.config import Settings
from service.eventloop import loop_name
from service.http.access import Guard
from service.http.instance.peers import Peers
from service.server import drain, freeze_start_up_objects, make_runner, reload_tokens

log = logging.getLogger("roleready.workers")
HEARTBEAT_S = 1.0
# What the arbiter sends a worker. Between gunicorn's fork and the worker's
# own handlers, one of these would reach the arbiter's handler copied into
# the child and be lost (a SIGTERM then left the worker serving until the
# graceful timeout): the arbiter forks with them blocked
# (gunicorn_app.ServiceArbiter.spawn_worker), and the worker unblocks them
# once its loop runs its handlers (`_run`), when any that came meanwhile is
# delivered.
WORKER_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP})


class ServiceWorker(GunicornWebWorker):
    """A worker on asyncio's loop (EVENT_LOOP=asyncio)."""

    # Handed out by the arbiter before the fork (gunicorn_app.assign_slot).
    slot: int = 0
    _guard: Guard | None = None

    def init_signals(self) -> None:
        super().init_signals()
        self._stop = asyncio.Event()
        self._drain = True
        for signum in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(signum, self._stop.set)
        # The arbiter's quick stop (its own SIGQUIT): no drain, the runner
        # still lets requests in progress finish.
        self.loop.add_signal_handler(signal.SIGQUIT, self._quit)
        self.loop.add_signal_handler(signal.SIGHUP, self._reload)

    def _quit(self) -> None:
        self._drain = False
        self._stop.set()

    async def _run(self) -> None:
        # Only now, with the loop running: a signal the loop's handlers
        # received before it ran was lost (uvloop), one kept blocked is not.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, WORKER_SIGNALS)
        settings: Settings = self.app.settings
        directory: Path = self.app.directory
        # Tracing is set up here, after the fork: its exporter's thread and
        # connections belong to this worker.
        app = create_app(settings, tracing=telemetry.configure(os.environ),
                         peers=Peers(self.slot, settings.workers, directory))
        self._guard = app[appkeys.GUARD]
        runner = make_runner(app, settings)
        await runner.setup()
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            for sock in self.sockets:
                await web.SockSite(runner, sock).start()
            self.booted = True  # the arbiter tells a boot failure from an exit by this
            freeze_start_up_objects()
            log.info("worker %d (pid %d) serving (event loop: %s)",
                     self.slot, os.getpid(), loop_name(asyncio.get_running_loop()))
            await self._stop.wait()
            if self._drain:
                await drain(app, settings)
        finally:
            await runner.cleanup()
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            log.info("worker %d stopped", self.slot)

    async def _heartbeat(self) -> None:
        while True:
            self.notify()
            if self.ppid != os.getppid():  # the arbiter is gone: nobody will stop us
                log.warning("worker %d: the arbiter is gone, stopping", self.slot)
                self._stop.set()
            await asyncio.sleep(HEARTBEAT_S)

    def _reload(self) -> None:
        if self._guard is None or not self._guard.reloads:
            log.info("SIGHUP: no token file to re-read")
            return
        reload_tokens(self._guard)


class ServiceUVLoopWorker(ServiceWorker, GunicornUVLoopWebWorker):
    """A worker on uvloop (EVENT_LOOP=uvloop, the default)."""
