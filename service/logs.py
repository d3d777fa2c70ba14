"""Logging set-up for the process: one line per record, level from settings."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    # aiohttp's access log is one line per request: too much below DEBUG.
    quiet = max(logging.getLevelName(level), logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(quiet)
    # transitions logs every callback at INFO; the journal already tells the story.
    logging.getLogger("transitions").setLevel(quiet)
