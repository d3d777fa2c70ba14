"""Error classification at the Redis boundary."""

from __future__ import annotations

import errno

import pytest
from redis import exceptions as r

from service.link.classify import classify, describe
from statemachine.errors import ErrorKind, drops_link


def _wrapped(message: str, cause: OSError) -> r.ConnectionError:
    try:
        raise r.ConnectionError(message) from cause
    except r.ConnectionError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (r.ReadOnlyError("READONLY You can't write against a read only replica."), ErrorKind.READONLY),
        (r.ResponseError("READONLY You can't write"), ErrorKind.READONLY),
        (r.TimeoutError("Timeout reading from socket"), ErrorKind.TIMEOUT),
        (TimeoutError(), ErrorKind.TIMEOUT),
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), ErrorKind.CONNECTION_REFUSED),
        (_wrapped("Error 111 connecting", ConnectionRefusedError(111, "x")), ErrorKind.CONNECTION_REFUSED),
        (ConnectionResetError(errno.ECONNRESET, "reset"), ErrorKind.CONNECTION_RESET),
        (_wrapped("Error while reading", ConnectionResetError(104, "x")), ErrorKind.CONNECTION_RESET),
        (r.ConnectionError("Connection closed by server."), ErrorKind.CONNECTION),
        (OSError(errno.ETIMEDOUT, "Connection timed out"), ErrorKind.TIMEOUT),
        (r.AuthenticationError("invalid username-password pair"), ErrorKind.AUTH),
        (r.ResponseError("NOAUTH Authentication required."), ErrorKind.AUTH),
        (r.ResponseError("OOM command not allowed when used memory > 'maxmemory'."), ErrorKind.OOM),
        (r.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"), ErrorKind.WRONGTYPE),
        (r.ResponseError("BUSY Redis is busy running a script."), ErrorKind.RESPONSE),
    ],
)
def test_classify(exc: BaseException, kind: ErrorKind) -> None:
    assert classify(exc) == kind


def test_which_kinds_drop_the_link() -> None:
    dropping = {k for k in ErrorKind if drops_link(k)}
    assert {ErrorKind.READONLY, ErrorKind.CONNECTION_REFUSED, ErrorKind.CONNECTION_RESET, ErrorKind.TIMEOUT} <= dropping
    assert not dropping & {ErrorKind.OOM, ErrorKind.WRONGTYPE, ErrorKind.RESPONSE}


def test_describe_uses_the_message_and_hides_credentials() -> None:
    exc = r.ConnectionError("Error connecting to redis://app:hunter2@db:6379 refused")
    text = describe(exc)
    assert "hunter2" not in text
    assert text.startswith("Error connecting to redis://***@db:6379")
    assert describe(r.ConnectionError("x" * 1000)) == "x" * 200
    assert describe(TimeoutError()) == "TimeoutError"
