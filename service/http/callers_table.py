"""CACHE_API_TOKENS_FILE at run time: the callers, followed as the file changes.

    identify(token) ─► a second or more since the last look? ─► stat the file;
                       changed? ─► read and check it (a bad file: keep the
                       callers we have, one WARNING until it is good again)
                    ─► SHA-256 of the token ─► the caller with that digest, or None
    SIGHUP ─► reload(): read the file now, whatever stat says

Looked at from the request path, like CACHE_API_TOKEN_FILE
(service.http.api_token, which says why). A token taken out of the file is
refused from the first request after the next look, so at most
CHECK_INTERVAL_S (1 s) after the file changed, at once after a SIGHUP; there
is no overlap: to rotate, list the new digest beside the old one, move the
callers over, then remove the old one.

The token is hashed once per request (SHA-256, well under a microsecond)
and the digest finds its caller in a dict. No token is compared byte by
byte, so there is nothing for a timing attack to measure: how long the
lookup takes depends on the digest of what the client sent, and learning
something about that digest tells nothing about any stored one (SHA-256 has
no known way back from a digest, and a client cannot choose digests). The
one-token forms, which do compare the token itself, use
hmac.compare_digest (service.http.api_token). A scan of every digest with
compare_digest would cost ~60 ns per caller on every request and protect
nothing more.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable

from service.config.callers import Caller, Callers, read_callers
from service.http.api_token import CHECK_INTERVAL_S, Signature, file_signature

log = logging.getLogger("roleready.auth")
FILE_VARIABLE = "CACHE_API_TOKENS_FILE"


class CallersTable:
    """The callers of one file, re-read when it changes or on reload()."""

    def __init__(self, path: str, monotonic: Callable[[], float]) -> None:
        self.path = path
        self._monotonic = monotonic
        self._signature = file_signature(path)
        self._callers: Callers = read_callers(path)
        self._next_check = monotonic() + CHECK_INTERVAL_S
        self._warned = False

    @property
    def names(self) -> list[str]:
        return sorted({caller.name for caller in self._callers.values()})

    def identify(self, token: bytes) -> Caller | None:
        """The caller whose token this is, or None."""
        now = self._monotonic()
        if now >= self._next_check:
            self._next_check = now + CHECK_INTERVAL_S
            signature = file_signature(self.path)
            if signature is None or signature != self._signature:
                self._read(signature)
        return self._callers.get(hashlib.sha256(token).digest())

    def reload(self) -> None:
        """Read the file now (SIGHUP), changed or not."""
        self._read(file_signature(self.path))

    def _read(self, signature: Signature | None) -> None:
        try:
            callers = read_callers(self.path)
        except ValueError as exc:
            # Not recorded as seen: the next look retries (a chmod moves no mtime).
            if not self._warned:
                self._warned = True
                log.warning("%s: %s; the previous callers stay in use", FILE_VARIABLE, exc)
            return
        self._signature = signature
        self._warned = False
        if callers != self._callers:
            self._callers = callers
            log.info("%s changed: %d callers (%s)", FILE_VARIABLE,
                     len({c.name for c in callers.values()}), ", ".join(self.names))

