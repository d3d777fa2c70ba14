"""CACHE_API_TOKENS_FILE at run time: the callers, followed as the file changes.

    caller_of(header) ─► a second or more since the last look? ─► stat the file;
                         changed? ─► read and check it (a bad file: keep the
                         callers we have, one WARNING until it is good again)
                      ─► one of the last RECENT headers that named a caller? ─► it
                      ─► SHA-256 of the token ─► the caller with that digest, or None
    SIGHUP ─► reload(): read the file now, whatever stat says

Looked at from the request path, like CACHE_API_TOKEN_FILE
(service.http.api_token, which says why). A token taken out of the file is
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
from service.http.api_token import CHECK_INTERVAL_S, Signature, file_signature

log = logging.getLogger("roleready.auth")
FILE_VARIABLE = "CACHE_API_TOKENS_FILE"
BEARER = "Bearer "
# Headers remembered with their caller: callers are a handful of services,
# each sending one token.
RECENT = 16


class CallersTable:
    """The callers of one file, re-read when it changes or on reload()."""

    def __init__(self, path: str, monotonic: Callable[[], float]) -> None:
        self.path = path
        self._monotonic = monotonic
        self._signature = file_signature(path)
        self._callers: Callers = read_callers(path)
        self._recent: dict[str, Caller] = {}
        self._next_check = monotonic() + CHECK_INTERVAL_S
        self._warned = False

    @property
    def names(self) -> list[str]:
        return sorted({caller.name for caller in self._callers.values()})

    def caller_of(self, header: str) -> Caller | None:
        """The caller an (ASCII) Authorization header names, or None."""
        now = self._monotonic()
        if now >= self._next_check:
            self._next_check = now + CHECK_INTERVAL_S
            signature = file_signature(self.path)
            if signature is None or signature != self._signature:
                self._read(signature)
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
            self._recent = {}
            log.info("%s changed: %d callers (%s)", FILE_VARIABLE,
                     len({c.name for c in callers.values()}), ", ".join(self.names))

