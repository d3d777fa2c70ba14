"""What this process was built from: the service's version (the package
metadata, see service.__version__), Python's and redis-py's. Read once;
shown by /api/status, /health/detailed (health+json) and /metrics
(`roleready_build_info`)."""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from importlib import metadata

import redis

import service
from service import DISTRIBUTION, __version__

SERVICE_ID = DISTRIBUTION


@dataclass(frozen=True, slots=True)
class Build:
    version: str
    python: str
    redis_py: str
    description: str

    def labels(self) -> dict[str, str]:
        """The metric's labels (Prometheus spelling)."""
        return {"version": self.version, "python": self.python, "redis_py": self.redis_py}

    def as_json(self) -> dict[str, str]:
        """The same in /api/status (this API's camelCase)."""
        return {"version": self.version, "python": self.python, "redisPy": self.redis_py}


def _description() -> str:
    try:
        summary = metadata.metadata(DISTRIBUTION)["Summary"]
    except metadata.PackageNotFoundError:
        summary = None
    return summary or (service.__doc__ or DISTRIBUTION).strip()


@functools.cache
def build() -> Build:
    return Build(__version__, platform.python_version(), redis.__version__, _description())
