"""Whether the process should receive new traffic.

Readiness only turns false while the service drains for shutdown: a Redis
outage is served from memory and therefore still counts as ready.
"""

from __future__ import annotations


class Readiness:
    """A one-way switch from serving to draining."""

    def __init__(self) -> None:
        self.draining = False

    def start_draining(self) -> None:
        self.draining = True
