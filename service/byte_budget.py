"""Bytes held by requests in progress, against a limit (CACHE_INFLIGHT_MAX_BYTES).

A plain counter shared by one process's batch routes (service.http.held
takes and gives back); one event loop, so no lock."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class ByteBudget:
    """Batch request and answer bytes the process holds, against a limit."""

    limit: int
    held: int = 0
