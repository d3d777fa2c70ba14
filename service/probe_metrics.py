"""The /metrics families read from the last probe of Redis (PING and INFO).

They exist only while Redis answered the scrape's probe: a missing series
says "not known now", where a zero would claim a figure. The alert rules
(deploy/prometheus/alerts.yml) read them together: used memory against
maxmemory matters where a full Redis refuses writes (the policy and the
keys with a TTL say where), evictions where it makes room instead.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

from service.link.probe import ProbeResult


def probe_metrics(probe: ProbeResult, prefix: str) -> Iterator[Metric]:
    """The families, named `{prefix}_redis_...` (collectors.PREFIX)."""
    # Redis's evicted_keys counter restarts at 0 with Redis, which rate() allows for.
    for family, name, text, value in (
        (GaugeMetricFamily, "used_memory_bytes", "Redis used_memory at the last scrape.",
         probe.used_memory_bytes),
        (GaugeMetricFamily, "maxmemory_bytes",
         "Redis maxmemory (0 = unlimited) at the last scrape.", probe.maxmemory_bytes),
        (CounterMetricFamily, "evicted_keys",
         "Keys Redis evicted to stay under maxmemory (INFO stats evicted_keys).",
         probe.evicted_keys),
        (GaugeMetricFamily, "expiring_keys",
         "Keys with a TTL in Redis, all databases (INFO keyspace expires).",
         probe.expiring_keys),
        (GaugeMetricFamily, "ping_seconds", "PING round-trip time at the last scrape.",
         probe.response_time_s),
    ):
        if value is not None:
            yield family(f"{prefix}_redis_{name}", text, value=value)
    if probe.maxmemory_policy is not None:
        # An info metric (value 1, the policy as a label) so rules can join on it.
        policy = InfoMetricFamily(
            f"{prefix}_redis_maxmemory_policy",
            "Redis maxmemory-policy (INFO memory) at the last scrape.",
            labels=["policy"],
        )
        policy.add_metric([probe.maxmemory_policy], {})
        yield policy
