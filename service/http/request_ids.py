"""Request ids: the caller's `X-Request-ID` when it is sane, else one made here.

    X-Request-ID: <1-128 of A-Z a-z 0-9 . _ : ->  ─► kept as the caller sent it
    absent, or anything else                    ─► "<12 hex, random per app>-<counter>"

A made id is unique across a fleet without a random draw per request: the
prefix is drawn once per application (so once per worker process, even when
workers are forked from one parent), the counter counts that app's requests.
An insane caller's id (too long, or characters a log line or header could be
abused with) is replaced, not repaired: repairing could make two callers'
ids equal.
"""

from __future__ import annotations

import itertools
import re
import secrets

from aiohttp import web
from multidict import istr

X_REQUEST_ID = istr("X-Request-ID")
MAX_LENGTH = 128
_SANE = re.compile(rf"[A-Za-z0-9._:-]{{1,{MAX_LENGTH}}}").fullmatch


class RequestIds:
    """Gives each request its id (one instance per application)."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6) + "-"
        self._counter = itertools.count(1)

    def of(self, request: web.Request) -> str:
        given = request.headers.get(X_REQUEST_ID)
        if given is not None and _SANE(given) is not None:
            return given
        # Decimal: formatting the counter in hex cost a third more.
        return f"{self._prefix}{next(self._counter)}"
