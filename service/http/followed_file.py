"""A file the service follows as it changes: CACHE_API_TOKEN_FILE and
CACHE_API_TOKENS_FILE (service.http.api_token, service.http.callers_table).

    look() ─► a second or more since the last look? ─► stat the file;
              changed? ─► read it ─► its new content (None: nothing new)
    reload() (SIGHUP) ─► read it now, whatever stat says
    a file that cannot be read (missing, empty, invalid) ─► nothing new, one
        WARNING until it reads again (then one INFO), and the next look
        reads again: its signature is not recorded, since a chmod that makes
        it readable again moves no mtime

Why the file is looked at from the request path rather than by a task: the
look costs one clock read and one comparison per request until a second has
passed, then one stat(); a task would wake every second on an idle service
and, driven by a FakeClock, would race the clock forward. Tied to requests,
tests move a FakeClock and the next request sees exactly what a real second
later would. A file changed while no request comes in is read by the first
one after: nothing uses it before then.

What the file holds is never logged: only that it changed or could not be
read (its readers' errors name no secret).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger("roleready.auth")
# At most one stat() of a followed file per this many seconds.
CHECK_INTERVAL_S = 1.0
# What tells a changed file: a rewrite moves mtime or size, an atomic
# replace (and a Kubernetes secret's symlink swap) the inode.
Signature = tuple[int, int, int, int]
T = TypeVar("T")


class FollowedFile(Generic[T]):
    """The file at `path` (named by `variable` in log lines), read by `read`
    (which raises ValueError for a file it cannot use)."""

    def __init__(self, path: str, variable: str, read: Callable[[str], T],
                 monotonic: Callable[[], float], kept: str) -> None:
        self.path = path
        self._variable = variable
        self._read = read
        self._monotonic = monotonic
        self._kept = kept  # what stays in use while the file cannot be read
        self._signature = file_signature(path)
        self.first: T = read(path)  # start-up: an unusable file stops it
        self._next_check = monotonic() + CHECK_INTERVAL_S
        self._warned = False

    def look(self) -> T | None:
        """The file's new content if it changed since the last look and a
        second or more has passed since then; else None."""
        now = self._monotonic()
        if now < self._next_check:
            return None
        self._next_check = now + CHECK_INTERVAL_S
        signature = file_signature(self.path)
        if signature is not None and signature == self._signature:
            return None
        return self._read_now(signature)

    def reload(self) -> T | None:
        """The file's content read now (SIGHUP), changed or not; None when
        it cannot be read."""
        return self._read_now(file_signature(self.path))

    def _read_now(self, signature: Signature | None) -> T | None:
        try:
            content = self._read(self.path)
        except ValueError as exc:
            if not self._warned:
                self._warned = True
                log.warning("%s: %s; %s", self._variable, exc, self._kept)
            return None
        if self._warned:
            self._warned = False
            log.info("%s is readable again", self._variable)
        self._signature = signature
        return content


def file_signature(path: str) -> Signature | None:
    """What tells that the file at `path` changed; None when it cannot be stat()ed."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_mtime_ns, found.st_size, found.st_ino, found.st_dev)
