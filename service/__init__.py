"""roleready-cache: a two-tier cache service that keeps answering while Redis fails."""

from __future__ import annotations

import configparser
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "roleready-cache"
UNKNOWN_VERSION = "0+unknown"


def _version() -> str:
    """The version, written once: setup.cfg's, as the installed metadata has it.

    A checkout run without being installed (`python -m service` with the
    tree on PYTHONPATH, as scripts/benchmark can run one) has no metadata:
    it reads the setup.cfg beside the package instead, else reports
    UNKNOWN_VERSION. (Where another tree of this package is installed, the
    metadata is that tree's.)
    """
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        pass
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(Path(__file__).resolve().parent.parent / "setup.cfg"):
        return UNKNOWN_VERSION
    return parser.get("metadata", "version", fallback=UNKNOWN_VERSION)


__version__ = _version()
