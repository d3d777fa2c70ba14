"""`python -m service` and the `roleready-cache` console script."""

from __future__ import annotations

import asyncio
import os
import sys

from service.config import ConfigError, Settings
from service.logs import configure_logging
from service.server import serve

EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        print(f"roleready-cache: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    configure_logging(settings.log_level)
    asyncio.run(serve(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
