"""The /metrics families of writes held until a replica confirms them
(service.cache.unconfirmed), and the health document's `unconfirmed` part.

The age of the oldest held write is what the alert reads
(deploy/prometheus/alerts.yml, RedisReplicaConfirmationsStalled): it grows
only while no replica confirms anything, that is while the master has no
replica in sync. With nothing held it is 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from service.cache.unconfirmed import Unconfirmed
from statemachine.projections import LinkView


def unconfirmed_metrics(held: Unconfirmed | None, view: LinkView, prefix: str) -> Iterator[Metric]:
    """Named `{prefix}_cache_unconfirmed_...` (collectors.PREFIX)."""
    age = held.oldest_age_s() if held is not None else None
    for family, name, text, value in (
        (GaugeMetricFamily, "unconfirmed_keys",
         "Writes and tag invalidations the master acknowledged that no replica has "
         "confirmed yet (keys and tags, and namespaces after an overflow).", len(held) if held is not None else 0),
        (GaugeMetricFamily, "unconfirmed_oldest_age_seconds",
         "Age of the oldest unconfirmed write (0: none held).", age or 0.0),
        (CounterMetricFamily, "unconfirmed_confirmed",
         "Writes a replica confirmed.", held.confirmed_total if held is not None else 0),
        (CounterMetricFamily, "unconfirmed_replayed",
         "Unconfirmed writes replayed at a reconnect (deleted or rewritten).",
         view.replayed_unconfirmed_total),
        (CounterMetricFamily, "unconfirmed_overflows",
         "Times the unconfirmed writes passed CACHE_OUTBOX_MAX_KEYS (namespaces held instead).",
         held.overflows if held is not None else 0),
    ):
        yield family(f"{prefix}_cache_{name}", text, value=value)


def unconfirmed_check(held: Unconfirmed | None) -> dict[str, Any]:
    """/health/detailed's `checks.redis.unconfirmed`."""
    age = held.oldest_age_s() if held is not None else None
    return {
        "enabled": held is not None,
        "required": held is not None and held.required,
        "count": len(held) if held is not None else 0,
        "oldestAgeMs": round(age * 1000) if age is not None else None,
    }
