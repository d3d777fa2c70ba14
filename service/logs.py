"""Logging set-up for the process: one line per record, level from settings."""

from __future__ import annotations

import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    # transitions logs every callback at INFO; the journal already tells that
    # story, so its own lines are only wanted at DEBUG.
    if level != "DEBUG":
        logging.getLogger("transitions").setLevel(logging.WARNING)
