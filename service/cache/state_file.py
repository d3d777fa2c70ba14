"""CACHE_STATE_DIR: this process's outbox file, and the files of dead ones.

    start ─► own file `outbox-<random>.log`: created under a temporary name,
             locked (flock, exclusive), then renamed into place
          ─► every other `outbox-*.log` whose lock can be taken belongs to a
             process that is gone (the kernel drops a flock with its process,
             SIGKILL and OOM kill included): it is adopted (read, handed to
             the outbox) and removed once this process's own file holds it
    append ─► written in order from the event loop, then fsync'd in a thread;
             appends waiting at the same time share one fsync (group commit)
    rewrite ─► what is still owed, to a new file renamed over the old one

One file per process, each held by a lock, rather than one shared file:
with WORKERS=N every worker is a process, and a shared file would need a
lock around each append and its fsync. A lock that dies with its holder
needs no pid check (pids repeat in containers), and whichever process
starts next (a restarted worker, a restarted instance, or a different
number of workers) picks up the files of the dead ones. Record format:
service.cache.state_records.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from service.cache.state_records import HEADER, Reading, decode

log = logging.getLogger("roleready.cache")
PATTERN = "outbox-*.log"


class StateFile:
    """This process's file: appended, fsync'd, rewritten, removed at the end."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / f"outbox-{secrets.token_hex(8)}.log"
        self._fd = self._create(HEADER)
        self._written = 0  # appends made
        self._synced = 0  # appends known to be on disk
        self._syncing: asyncio.Future[None] | None = None
        self.appended_since_rewrite = 0

    def _create(self, content: bytes) -> int:
        """A new file with `content`, on disk and locked, under `self.path`."""
        temporary = self.directory / f".{self.path.name}.{secrets.token_hex(4)}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _write_all(fd, content)
            os.fsync(fd)
            os.replace(temporary, self.path)
            _sync_directory(self.directory)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise
        return fd

    def append(self, data: bytes) -> None:
        """Written now (in order with every other append); on disk once
        `synced()` returns."""
        _write_all(self._fd, data)
        self._written += 1
        self.appended_since_rewrite += 1

    async def synced(self) -> None:
        """Returns once every append made so far is on disk."""
        target = self._written
        while self._synced < target:
            if self._syncing is None:
                self._syncing = asyncio.ensure_future(self._sync())
            await asyncio.shield(self._syncing)

    async def _sync(self) -> None:
        covered = self._written
        try:
            await asyncio.get_running_loop().run_in_executor(None, os.fsync, self._fd)
            self._synced = max(self._synced, covered)
        finally:
            self._syncing = None

    async def rewrite(self, content: bytes) -> None:
        """Replace the file by `content` (whole records), atomically."""
        if self._syncing is not None:  # never close a descriptor being fsync'd
            with contextlib.suppress(OSError):
                await asyncio.shield(self._syncing)
        # From here on, nothing awaits: no append can fall between the
        # content and the switch of descriptors.
        fd = self._create(HEADER + content)
        os.close(self._fd)
        self._fd = fd
        self._synced = self._written
        self.appended_since_rewrite = 0

    async def close(self, *, remove: bool) -> None:
        """Close (removing the file when nothing is owed)."""
        if self._syncing is not None:
            with contextlib.suppress(OSError):
                await asyncio.shield(self._syncing)
        if remove:
            with contextlib.suppress(OSError):
                self.path.unlink()
                _sync_directory(self.directory)
        os.close(self._fd)


@dataclass
class Orphan:
    """A dead process's file, locked by this one until it is removed."""

    path: Path
    fd: int
    reading: Reading

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()
        os.close(self.fd)


def adopt(directory: Path, own: Path) -> list[Orphan]:
    """The files no living process holds, read and locked (oldest first)."""
    orphans = []
    for path in sorted(directory.glob(PATTERN), key=_mtime):
        if path == own:
            continue
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            continue  # removed meanwhile by whoever adopted it
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)  # its process is alive (or another is adopting it)
            continue
        if os.fstat(fd).st_nlink == 0:
            os.close(fd)  # adopted and removed between our open and our lock
            continue
        with open(path, "rb") as file:
            reading = decode(file.read())
        orphans.append(Orphan(path, fd, reading))
    return orphans


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _sync_directory(directory: Path) -> None:
    """A created, renamed or removed name survives a crash only once its
    directory is fsync'd."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
