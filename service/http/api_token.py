"""The bearer token /cache/ requires: a fixed string, or a file that rotates.

    request to /cache/ ─► accepts(Authorization header)
        fixed token (CACHE_API_TOKEN) ─► one constant-time comparison
        token file (CACHE_API_TOKEN_FILE):
          a second or more since the last look? ─► stat the file; changed? ─► read it
          current token? ─► yes
          previous token, and its overlap not over? ─► yes
    SIGHUP ─► reload(): read the file now, whatever stat says

Why the file is looked at from the request path rather than by a task: the
look costs one clock read and one comparison per request until a second has
passed, then one stat(); a task would wake every second on an idle service
and, driven by a FakeClock, would race the clock forward. Tied to requests,
tests move a FakeClock and the next request sees exactly what a real second
later would. A file changed while no request comes in is read by the first
one after: nothing uses the token before then. The overlap is measured on
the same clock.

The token is never logged: the log says that the file changed or could not
be read, never what it holds.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Callable

from service.config import Settings
from service.config.values import read_secret_file

log = logging.getLogger("roleready.auth")
# At most one stat() of the token file per this many seconds.
CHECK_INTERVAL_S = 1.0
FILE_VARIABLE = "CACHE_API_TOKEN_FILE"
# What tells a changed file: a rewrite moves mtime or size, an atomic
# replace (and a Kubernetes secret's symlink swap) the inode.
Signature = tuple[int, int, int, int]


class FixedToken:
    """CACHE_API_TOKEN: the same token for the life of the process."""

    def __init__(self, token: str) -> None:
        self._expected = expected_header(token)

    def accepts(self, given: bytes) -> bool:
        return hmac.compare_digest(given, self._expected)


class TokenFile:
    """CACHE_API_TOKEN_FILE: the token in a file, followed as it rotates.

    After a change the previous token stays accepted for `overlap_s`, so
    clients that have not picked up the new one yet keep working; a second
    change within the overlap replaces the previous token with the one it
    replaced (two tokens at most). A file that becomes unreadable or empty
    keeps the last good token, with one WARNING until it is good again.
    """

    def __init__(self, path: str, overlap_s: float, monotonic: Callable[[], float]) -> None:
        self.path = path
        self._overlap_s = overlap_s
        self._monotonic = monotonic
        self._signature = file_signature(path)
        self._current = expected_header(read_secret_file(path))
        self._previous: bytes | None = None
        self._previous_until = 0.0
        self._next_check = monotonic() + CHECK_INTERVAL_S
        self._warned = False

    def accepts(self, given: bytes) -> bool:
        now = self._monotonic()
        if now >= self._next_check:
            self._next_check = now + CHECK_INTERVAL_S
            self._check(now)
        if hmac.compare_digest(given, self._current):
            return True
        previous = self._previous
        return (
            previous is not None and now < self._previous_until
            and hmac.compare_digest(given, previous)
        )

    def reload(self) -> None:
        """Read the file now (SIGHUP), changed or not."""
        self._read(self._monotonic(), file_signature(self.path))

    def _check(self, now: float) -> None:
        signature = file_signature(self.path)
        if signature is None or signature != self._signature:
            self._read(now, signature)

    def _read(self, now: float, signature: Signature | None) -> None:
        try:
            token = read_secret_file(self.path)
        except ValueError as exc:
            # The signature is not recorded, so the next check retries: a
            # chmod that makes the file readable again moves no mtime.
            if not self._warned:
                self._warned = True
                log.warning("%s: %s; the last good token stays in use", FILE_VARIABLE, exc)
            return
        if self._warned:
            self._warned = False
            log.info("%s is readable again", FILE_VARIABLE)
        self._signature = signature
        expected = expected_header(token)
        if hmac.compare_digest(expected, self._current):
            return
        self._previous, self._current = self._current, expected
        self._previous_until = now + self._overlap_s
        log.info(
            "%s changed: the new token is accepted, the previous one for %g s more",
            FILE_VARIABLE, self._overlap_s,
        )


ApiToken = FixedToken | TokenFile


def api_token(settings: Settings, monotonic: Callable[[], float]) -> ApiToken | None:
    """The token the settings ask for; None when /cache/ is open."""
    if settings.cache_api_token_file:
        overlap_s = settings.cache_api_token_overlap_ms / 1000
        return TokenFile(settings.cache_api_token_file, overlap_s, monotonic)
    if settings.cache_api_token:
        return FixedToken(settings.cache_api_token)
    return None


def expected_header(token: str) -> bytes:
    """The Authorization header value that carries `token`."""
    return f"Bearer {token}".encode()


def file_signature(path: str) -> Signature | None:
    """What tells that the file at `path` changed; None when it cannot be stat()ed."""
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_mtime_ns, found.st_size, found.st_ino, found.st_dev)
