"""Logging set-up for the process: one line per record, text or JSON, each
carrying the id of the request being handled when it was written.

    logger.info(..., extra={"state": ...})  ─► root handler (stderr)
        ─► RequestIdFilter: record.request_id = REQUEST_ID of the current context
        ─► TextFormatter: "time [request id] LEVEL logger: message"  (LOG_FORMAT=text)
           JsonFormatter: {"time", "level", "logger", "message", "request_id",
                           every `extra=` field, "exception"}     (LOG_FORMAT=json)

The request layer (service.http.request_layer) sets REQUEST_ID at the start
of each request. aiohttp runs every request in a task of its own, which
copies the context, so the value stays with that request and whatever it
awaits; nothing needs resetting.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from contextvars import ContextVar
from typing import Any

import orjson

TEXT_FORMAT = "%(asctime)s%(request_tag)s %(levelname)s %(name)s: %(message)s"
# The id of the request whose handling is running, None outside requests.
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
AIOHTTP_SERVER = "aiohttp.server"
# C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
_CONTROL_CODES = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]
_CONTROL = re.compile("[" + "".join(f"\\u{code:04x}" for code in _CONTROL_CODES) + "]").search
_ESCAPES = {code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
            for code in _CONTROL_CODES}
# What every LogRecord has before `extra=` adds to it: anything else is a field.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__
) | {"message", "asctime", "request_id", "request_tag", "taskName"}


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request's id (None outside one).

    On the handler, not a logger, so records propagated from every logger
    (aiohttp's, redis-py's) are stamped too.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class ClientErrorFilter(logging.Filter):
    """aiohttp's server logs a request its parser refused (a 400 it answers
    itself: a bad request line, an overlong header, a bad URL) at ERROR with
    a traceback. Any client can send those, so each becomes one INFO line
    naming the problem, without the traceback (a log flood is cheap to cause
    otherwise); the server's own failures keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        code = getattr(exc, "code", None)
        if record.name == AIOHTTP_SERVER and isinstance(code, int) and 400 <= code < 500:
            record.levelno, record.levelname = logging.INFO, "INFO"
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            record.msg = "refused a malformed request from %s: %d %s"
            record.args = (remote, code, type(exc).__name__)
            record.exc_info = record.exc_text = None
        return True


class TextFormatter(logging.Formatter):
    """The service's text lines, with ` [<request id>]` after the time inside
    a request; outside one the line is exactly what it always was.

    Control characters in the message (a path holding %0a, a header's bytes)
    are written escaped (`\\x0a`), so a record is always one line and no
    caller can forge a line; a traceback after it keeps its own lines."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        request_id = getattr(record, "request_id", None)
        record.request_tag = f" [{request_id}]" if request_id else ""
        if _CONTROL(record.message) is not None:
            record.message = record.message.translate(_ESCAPES)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (ISO-8601 UTC, ms), level, logger,
    message, request_id when in a request, every `extra=` field, and the
    exception's traceback as text when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": _iso_utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            document["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in _RECORD_ATTRIBUTES and not name.startswith("_"):
                document[name] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            document["stack"] = self.formatStack(record.stack_info)
        # default=str: a field orjson cannot encode is written as its text
        # rather than losing the line.
        return orjson.dumps(document, default=str).decode()


def _iso_utc(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def configure_logging(level: str, log_format: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(ClientErrorFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level, handlers=[handler])
    # transitions logs every callback at INFO; the journal already tells that
    # story, so its own lines are only wanted at DEBUG.
    if level != "DEBUG":
        logging.getLogger("transitions").setLevel(logging.WARNING)
