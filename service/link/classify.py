"""Classify what Redis (or the socket under it) raised into an `ErrorKind`.

This is the boundary: everything past it speaks `ErrorKind`, and the state
machine alone decides which kinds drop the link. redis-py's
ConnectionError/TimeoutError are NOT subclasses of the builtin ones, so both
families are checked.
"""

from __future__ import annotations

import asyncio
import errno
import re

from redis import exceptions as redis_errors

from statemachine.errors import ErrorKind

# Anything that looks like credentials in a URL is cut before a message is
# stored, logged or shown (redis-py messages carry host:port, never the URL,
# but a future message might).
_CREDENTIALS = re.compile(r"//[^/@\s]*@")
MAX_MESSAGE_CHARS = 200

# What a cache operation may raise when Redis misbehaves; a cache tier catches
# exactly these and nothing wider, so programming errors still surface.
REDIS_FAILURES: tuple[type[BaseException], ...] = (
    redis_errors.RedisError,
    OSError,
    asyncio.TimeoutError,
)

# A Redis Cluster's redirections: not failures of the node that sent them
# (the key's slot is served elsewhere); the cluster link follows them.
REDIRECTIONS: tuple[type[BaseException], ...] = (redis_errors.AskError,)  # MovedError is one


def classify(exc: BaseException) -> ErrorKind:
    if isinstance(exc, redis_errors.AuthenticationError | redis_errors.AuthorizationError):
        return ErrorKind.AUTH
    if isinstance(exc, redis_errors.ReadOnlyError):
        return ErrorKind.READONLY
    if isinstance(exc, redis_errors.OutOfMemoryError):  # its message lacks the word OOM
        return ErrorKind.OOM
    if isinstance(exc, redis_errors.TimeoutError | asyncio.TimeoutError | TimeoutError):
        return ErrorKind.TIMEOUT
    if isinstance(exc, ConnectionRefusedError):
        return ErrorKind.CONNECTION_REFUSED
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return ErrorKind.CONNECTION_RESET
    if isinstance(exc, redis_errors.ConnectionError | OSError):
        return _connection_kind(exc)
    if isinstance(exc, redis_errors.ResponseError):
        return _reply_kind(_text(exc))
    return ErrorKind.RESPONSE


def _connection_kind(exc: BaseException) -> ErrorKind:
    # redis-py wraps the socket's OSError; the errno lives on the original.
    code = getattr(exc, "errno", None)
    origin = exc.__cause__ or exc.__context__
    if code is None and isinstance(origin, OSError):
        code = origin.errno
    text = _text(exc).lower()
    if code == errno.ECONNREFUSED or "refused" in text:
        return ErrorKind.CONNECTION_REFUSED
    if code in (errno.ECONNRESET, errno.EPIPE) or "reset" in text or "broken pipe" in text:
        return ErrorKind.CONNECTION_RESET
    if code == errno.ETIMEDOUT or "timed out" in text or "timeout" in text:
        return ErrorKind.TIMEOUT
    return ErrorKind.CONNECTION


def _reply_kind(text: str) -> ErrorKind:
    head = text.split(" ", 1)[0].upper()
    if head == "READONLY":
        return ErrorKind.READONLY
    if head == "OOM":
        return ErrorKind.OOM
    if head == "WRONGTYPE":
        return ErrorKind.WRONGTYPE
    if head in ("NOAUTH", "WRONGPASS", "NOPERM"):
        return ErrorKind.AUTH
    return ErrorKind.RESPONSE


def _text(exc: BaseException) -> str:
    # redis-py 8's str() of its errors is a category ("network:ConnectionError");
    # the message itself is the first argument.
    if exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    return str(exc)


def describe(exc: BaseException) -> str:
    """A short, credential-free message for logs, the journal and /health."""
    text = _text(exc).strip() or type(exc).__name__
    text = _CREDENTIALS.sub("//***@", text)
    return text[:MAX_MESSAGE_CHARS]
