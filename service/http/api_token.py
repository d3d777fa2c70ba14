"""The bearer token /cache/ requires: a fixed string, or a file that rotates.

    request to /cache/ ─► accepts(Authorization header)
        fixed token (CACHE_API_TOKEN) ─► one constant-time comparison
        token file (CACHE_API_TOKEN_FILE):
          the file changed (a look at most once a second, followed_file.py)?
              ─► its token is current, the one it replaced previous
          current token? ─► yes
          previous token, and its overlap not over? ─► yes
    SIGHUP ─► reload(): read the file now, whatever stat says

The overlap is measured on the clock the file is looked at with.

The token is never logged: the log says that the file changed or could not
be read, never what it holds.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from service.config import Settings
from service.config.values import read_secret_file
from service.http.followed_file import FollowedFile

log = logging.getLogger("roleready.auth")
FILE_VARIABLE = "CACHE_API_TOKEN_FILE"


class FixedToken:
    """CACHE_API_TOKEN: the same token for the life of the process."""

    def __init__(self, token: str) -> None:
        self._expected = expected_header(token)

    def accepts(self, given: bytes) -> bool:
        return hmac.compare_digest(given, self._expected)


class TokenFile:
    """CACHE_API_TOKEN_FILE: the token in a file, followed as it rotates
    (service.http.followed_file).

    After a change the previous token stays accepted for `overlap_s`, so
    clients that have not picked up the new one yet keep working; a second
    change within the overlap replaces the previous token with the one it
    replaced (two tokens at most). A file that becomes unreadable or empty
    keeps the last good token, with one WARNING until it is good again.
    """

    def __init__(self, path: str, overlap_s: float, monotonic: Callable[[], float]) -> None:
        self._file = FollowedFile(path, FILE_VARIABLE, read_secret_file, monotonic,
                                  "the last good token stays in use")
        self._overlap_s = overlap_s
        self._monotonic = monotonic
        self._current = expected_header(self._file.first)
        self._previous: bytes | None = None
        self._previous_until = 0.0

    @property
    def path(self) -> str:
        return self._file.path

    def accepts(self, given: bytes) -> bool:
        token = self._file.look()
        if token is not None:
            self._changed(token)
        if hmac.compare_digest(given, self._current):
            return True
        previous = self._previous
        return (
            previous is not None and self._monotonic() < self._previous_until
            and hmac.compare_digest(given, previous)
        )

    def reload(self) -> None:
        """Read the file now (SIGHUP), changed or not."""
        token = self._file.reload()
        if token is not None:
            self._changed(token)

    def _changed(self, token: str) -> None:
        expected = expected_header(token)
        if hmac.compare_digest(expected, self._current):
            return
        self._previous, self._current = self._current, expected
        self._previous_until = self._monotonic() + self._overlap_s
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
