"""CACHE_API_TOKENS_FILE at run time: the callers, followed as the file changes.

    caller_of(header) ─► the file changed (a look at most once a second,
                         followed_file.py)? ─► its callers (a bad file: keep
                         the callers we have, one WARNING until it is good again)
                      ─► one of the last RECENT headers that named a caller? ─► it
                      ─► SHA-256 of the token ─► the caller with that digest, or None
    SIGHUP ─► reload(): read the file now, whatever stat says

Looked at from the request path, like CACHE_API_TOKEN_FILE
(service.http.followed_file says why). A token taken out of the file is
refused from the first request after the next look, so at most
CHECK_INTERVAL_S (1 s) after the file changed, at once after a SIGHUP; there
is no overlap: to rotate, list the new digest beside the old one, move the
callers over, then remove the old one.

A token is hashed (SHA-256) and the digest finds its caller in a dict.
Hashing, with the header's checks around it, measured ~4 us on the
reference machine under load (SHA-256 alone ~1.7 us there), a real share
of a memory hit; so the last RECENT headers that named a caller are kept,
and a caller's next request costs one dict lookup. Only headers that named
a caller are kept (a client spraying guesses evicts nothing), and the
whole memo is dropped whenever the callers change, so a revoked token is
refused as soon as the file is read.

Timing: no token is compared byte by byte with a stored one. A dict lookup
compares keys only when their full hashes are equal (Python's string hash is
keyed per process), and how long the digest's lookup takes depends on the
digest of what the client sent, which tells nothing about any stored digest
(SHA-256 has no known way back, and a client cannot choose digests). The
one-token forms, which do compare the token itself, use hmac.compare_digest
(service.http.api_token).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from service.config.callers import Caller, Callers, read_callers
from service.http.followed_file import FollowedFile

log = logging.getLogger("roleready.auth")
FILE_VARIABLE = "CACHE_API_TOKENS_FILE"
BEARER = "Bearer "
# Headers remembered with their caller: callers are a handful of services,
# each sending one token.
RECENT = 16


class CallersTable:
    """The callers of one file, re-read when it changes or on reload()."""

    def __init__(self, path: str, monotonic: Callable[[], float]) -> None:
        self._file = FollowedFile(path, FILE_VARIABLE, read_callers, monotonic,
                                  "the previous callers stay in use")
        self._callers: Callers = self._file.first
        self._recent: dict[str, Caller] = {}

    @property
    def path(self) -> str:
        return self._file.path

    @property
    def names(self) -> list[str]:
        return sorted({caller.name for caller in self._callers.values()})

    def caller_of(self, header: str) -> Caller | None:
        """The caller an (ASCII) Authorization header names, or None."""
        callers = self._file.look()
        if callers is not None:
            self._changed(callers)
        caller = self._recent.get(header)
        if caller is not None or not header.startswith(BEARER):
            return caller
        caller = self._callers.get(hashlib.sha256(header[len(BEARER):].encode()).digest())
        if caller is not None:
            if len(self._recent) >= RECENT:
                self._recent.clear()
            self._recent[header] = caller
        return caller

    def reload(self) -> None:
        """Read the file now (SIGHUP), changed or not."""
        callers = self._file.reload()
        if callers is not None:
            self._changed(callers)

    def _changed(self, callers: Callers) -> None:
        if callers != self._callers:
            self._callers = callers
            self._recent = {}
            log.info("%s changed: %d callers (%s)", FILE_VARIABLE,
                     len({c.name for c in callers.values()}), ", ".join(self.names))
