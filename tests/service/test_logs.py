"""The log formats: JSON lines that parse and carry the request id and the
link's fields; text lines unchanged outside a request."""

from __future__ import annotations

import contextvars
import io
import json
import logging
from collections.abc import Iterator

import pytest

from service.logs import REQUEST_ID, JsonFormatter, RequestIdFilter, TextFormatter
from statemachine.errors import ErrorKind
from statemachine.eventlog import FALLBACK_MESSAGE, LinkEventLogger
from statemachine.events import ErrorSeen
from statemachine.states import State
from statemachine.throttle import ErrorLogThrottle


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("roleready.test-logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream, handler
    logger.removeHandler(handler)


def _in_request(request_id: str) -> contextvars.Context:
    context = contextvars.copy_context()
    context.run(REQUEST_ID.set, request_id)
    return context


def test_json_lines_parse_and_carry_the_request_id_and_extra_fields(captured) -> None:  # type: ignore[no-untyped-def]
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())
    logger.info("outside %s", "any request", extra={"state": State.READY})
    _in_request("req-1").run(logger.warning, "inside", extra={"suppressed": 3})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    outside, inside, failed = (json.loads(line) for line in stream.getvalue().splitlines())
    assert outside["message"] == "outside any request" and outside["state"] == "ready"
    assert outside["level"] == "INFO" and outside["logger"] == "roleready.test-logs"
    assert outside["time"].endswith("Z") and "request_id" not in outside
    assert inside["request_id"] == "req-1" and inside["suppressed"] == 3
    assert failed["level"] == "ERROR" and "ValueError: boom" in failed["exception"]


def test_text_lines_are_unchanged_outside_a_request_and_tagged_inside(captured) -> None:  # type: ignore[no-untyped-def]
    logger, stream, handler = captured
    handler.setFormatter(TextFormatter())
    logger.warning("plain")
    _in_request("req-2").run(logger.warning, "tagged")
    plain, tagged = stream.getvalue().splitlines()
    assert plain.endswith(" WARNING roleready.test-logs: plain")
    assert " [req-2] WARNING roleready.test-logs: tagged" in tagged


def test_the_link_logs_state_error_kind_and_suppressed_as_fields(captured) -> None:  # type: ignore[no-untyped-def]
    logger, stream, handler = captured
    handler.setFormatter(JsonFormatter())
    link_log = LinkEventLogger(logger, ErrorLogThrottle())
    link_log(ErrorSeen(seq=1, monotonic=0.0, wall=0.0, source="ready", dest="error",
                       kind=ErrorKind.CONNECTION_REFUSED, message="refused", drops_link=True))
    error, fallback = (json.loads(line) for line in stream.getvalue().splitlines())
    assert error["error_kind"] == "connection_refused" and error["suppressed"] == 0
    assert error["state"] == "ready"
    assert error["message"].startswith("Redis error [connection_refused] in state ready")
    assert fallback == {**fallback, "message": FALLBACK_MESSAGE, "state": "error"}
