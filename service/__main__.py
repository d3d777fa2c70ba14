"""`python -m service` and the `roleready-cache` console script.

The command line only asks for help or the version: everything else is
configured by environment variables. WORKERS=1 (the default) serves from this process
(service.server); more hands the port to gunicorn (service.workers).
``--help`` and ``--version`` are answered before the environment is read,
so they work even when a variable is malformed, and they never start the
server or touch Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import textwrap

from service import __version__
from service.config import ConfigError, Settings, startup_report
from service.config.callers import refuse_open_service
from service.config.docs import help_text
from service.eventloop import loop_factory
from service.logs import configure_logging
from service.server import serve

EXIT_CONFIG = 2
DESCRIPTION = (
    "Two-tier cache service: an in-process LRU in front of Redis that keeps "
    "answering while Redis fails. It is configured by environment variables "
    "only; a malformed value stops start-up (exit 2) with one line naming the "
    "variable."
)
log = logging.getLogger("roleready.config")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.help:
        print(parser.format_help())
        return 0
    if args.version:
        print(__version__)
        return 0
    try:
        settings = Settings.from_env(os.environ)
        # Here, not in Settings: an app built in-process (tests) binds nothing.
        refuse_open_service(settings.host, settings.cache_api_auth, [
            settings.cache_api_token, settings.cache_api_token_file,
            settings.cache_api_tokens_file])
    except ConfigError as exc:
        print(f"roleready-cache: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level, settings.log_format)
    report = startup_report(settings, os.environ)
    for line in report.lines:
        log.info("%s", line)
    for warning in report.warnings:
        log.warning("%s", warning)
    if settings.workers > 1:
        # Imported here: gunicorn is only needed, and only loaded, with workers.
        from service.workers.gunicorn_app import run_workers

        return run_workers(settings)
    with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
        runner.run(serve(settings))
    return 0


def _parser() -> argparse.ArgumentParser:
    # Our own -h/--help and --version (not argparse's) so main() returns 0
    # instead of raising SystemExit, like every other outcome.
    parser = argparse.ArgumentParser(
        prog="roleready-cache",
        description=textwrap.fill(DESCRIPTION, width=78),
        epilog=help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    parser.add_argument(
        "-h", "--help", action="store_true", help="print the settings with their defaults and exit"
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    return parser


if __name__ == "__main__":
    sys.exit(main())
