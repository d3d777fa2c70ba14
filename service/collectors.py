"""Prometheus metrics: cache and link figures read at scrape time, plus
HTTP request durations observed by a middleware.

Counters that already exist as projections or plain counters (the link's
view, `CacheStats`) are not copied into prometheus-client objects on every
request; a custom collector reads them when /metrics is scraped. The same
goes for request durations: plain per-bucket counts, exposed at scrape time
exactly as a prometheus-client Histogram would expose them. Each app has its
own registry, so several apps in one process (tests) never clash.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING

import prometheus_client.metrics
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import INF, floatToGoString

from service.cache.two_tier import TwoTierCache
from service.link.driver import RedisLink
from service.link.probe import ProbeResult
from statemachine.states import State

if TYPE_CHECKING:
    from aiohttp.web import Request

PREFIX = "roleready"
STATES = [state.value for state in State]
REQUEST_DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)
# (route, method, status) of one request-duration series.
RequestKey = tuple[str, str, int]
# Records one answer of a route: (the request, its status, seconds taken).
Observe = Callable[["Request", int, float], None]


class CacheCollector(Collector):
    """Reads the cache counters and the link's projection at scrape time."""

    def __init__(self, cache: TwoTierCache, link: RedisLink) -> None:
        self._cache = cache
        self._link = link
        # Filled by the /metrics handler right before a scrape (bounded probe).
        self.last_probe: ProbeResult | None = None

    def collect(self) -> Iterator[Metric]:
        yield from self._cache_metrics()
        yield from self._link_metrics()

    def _cache_metrics(self) -> Iterator[Metric]:
        stats = self._cache.stats
        hits = CounterMetricFamily(
            f"{PREFIX}_cache_hits", "Lookups answered by a tier.", labels=["tier"]
        )
        hits.add_metric(["memory"], stats.memory_hits)
        hits.add_metric(["redis"], stats.redis_hits)
        misses = CounterMetricFamily(
            f"{PREFIX}_cache_misses", "Lookups a tier could not answer.", labels=["tier"]
        )
        misses.add_metric(["memory"], stats.memory_misses)
        misses.add_metric(["redis"], stats.redis_misses)
        lookups = CounterMetricFamily(
            f"{PREFIX}_cache_lookups", "GET outcomes across both tiers.", labels=["result"]
        )
        lookups.add_metric(["hit_memory"], stats.memory_hits)
        lookups.add_metric(["hit_redis"], stats.redis_hits)
        lookups.add_metric(["miss"], stats.misses)
        yield hits
        yield misses
        yield lookups
        yield CounterMetricFamily(f"{PREFIX}_cache_sets", "PUTs stored.", value=stats.sets)
        yield CounterMetricFamily(f"{PREFIX}_cache_deletes", "DELETEs done.", value=stats.deletes)
        memory = self._cache.memory
        yield GaugeMetricFamily(
            f"{PREFIX}_memory_cache_entries", "Entries in the memory tier.", value=len(memory)
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_memory_cache_capacity", "Capacity of the memory tier.", value=memory.capacity
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_memory_cache_bytes",
            "Estimated bytes held by the memory tier (bodies and metadata).",
            value=memory.bytes_used,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_memory_cache_max_bytes", "Byte budget of the memory tier.",
            value=memory.max_bytes,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_memory_cache_evictions", "LRU evictions.", value=memory.evictions
        )

    def _link_metrics(self) -> Iterator[Metric]:
        view = self._link.lifecycle.view
        state = self._link.lifecycle.state
        yield StateSetMetricFamily(
            f"{PREFIX}_redis_connection_state",
            "The Redis connection state machine's current state.",
            value={name: name == state for name in STATES},
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_up", "1 while the Redis link is ready.", value=int(self._link.lifecycle.is_ready())
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_enabled", "1 unless running memory-only.", value=int(self._link.enabled)
        )
        yield CounterMetricFamily(
            f"{PREFIX}_redis_errors", "Redis errors seen (all kinds).", value=view.errors_total
        )
        yield CounterMetricFamily(
            f"{PREFIX}_redis_reconnects", "Successful re-connections.", value=view.reconnects_total
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_reconnect_attempts",
            "Reconnect attempts since the link was last ready.",
            value=view.reconnect_attempts,
        )
        yield from self._memory_metrics()

    def _memory_metrics(self) -> Iterator[Metric]:
        probe = self.last_probe
        if probe is None:
            return
        if probe.used_memory_bytes is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_redis_used_memory_bytes",
                "Redis used_memory at the last scrape.",
                value=probe.used_memory_bytes,
            )
        if probe.maxmemory_bytes is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_redis_maxmemory_bytes",
                "Redis maxmemory (0 = unlimited) at the last scrape.",
                value=probe.maxmemory_bytes,
            )
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_ping_seconds",
            "PING round-trip time at the last scrape.",
            value=probe.response_time_s,
        )


class Series:
    """One label combination: observations per bucket (not cumulative), sum.

    Recording `seconds` is `counts[bisect_left(bounds, seconds)] += 1` and
    `total += seconds`, with the `bounds` of the RequestDurations it belongs to.
    """

    __slots__ = ("counts", "created", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * buckets
        self.total = 0.0
        self.created = time.time()


class RequestDurations(Collector):
    """A histogram observed without locks, exposed like prometheus-client's.

    prometheus-client's Histogram takes two threading locks and walks the
    buckets in Python on every observation; requests are observed on the one
    event-loop thread, so plain counters and a bisect do. Scrapes see the same
    family: `_bucket` (cumulative, `le`), `_count`, `_sum` and `_created`.
    """

    def __init__(self, name: str, documentation: str, buckets: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self._bounds = (*buckets, INF)
        self._le = [floatToGoString(bound) for bound in self._bounds]
        self._series: dict[RequestKey, Series] = {}

    def observe(self, key: RequestKey, seconds: float) -> None:
        series = self._series_for(key)
        # The first bucket whose upper bound is >= seconds, as `le` means.
        series.counts[bisect_left(self._bounds, seconds)] += 1
        series.total += seconds

    def observer(self, route: str, method: str) -> Observe:
        """`observe(request, status, seconds)` for one route, as `observe` does.

        A route with one method (every cache route) finds its series by
        status alone, so an observation builds no key, reads nothing from the
        request and makes one call; only a route that takes any method ("*")
        keys by the request's method.
        """
        if method == "*":
            return lambda request, status, seconds: self.observe(
                (route, request.method, status), seconds
            )
        by_status: dict[int, Series] = {}
        bounds = self._bounds

        def observe(_: Request, status: int, seconds: float) -> None:
            series = by_status.get(status)
            if series is None:
                series = by_status[status] = self._series_for((route, method, status))
            series.counts[bisect_left(bounds, seconds)] += 1
            series.total += seconds

        return observe

    @property
    def bounds(self) -> tuple[float, ...]:
        """Upper bounds of the buckets, +Inf last, as `Series.counts` holds them."""
        return self._bounds

    def series(self, route: str, method: str, status: int) -> Series:
        """The series of one route, method and status, to be recorded into directly."""
        return self._series_for((route, method, status))

    def _series_for(self, key: RequestKey) -> Series:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = Series(len(self._bounds))
        return series

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(
            self.name, self.documentation, labels=["route", "method", "status"]
        )
        # prometheus-client's own switch (PROMETHEUS_DISABLE_CREATED_SERIES).
        created = getattr(prometheus_client.metrics, "_use_created", True)
        for (route, method, status), series in list(self._series.items()):
            labels = [route, method, str(status)]
            cumulative = list(accumulate(series.counts))
            family.add_metric(labels, list(zip(self._le, cumulative, strict=True)), series.total)
            if created:
                family.samples.append(Sample(
                    self.name + "_created",
                    {"route": route, "method": method, "status": labels[2]},
                    series.created,
                ))
        yield family


class Metrics:
    """The app's registry and its request-duration histogram."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.request_durations = RequestDurations(
            f"{PREFIX}_http_request_duration_seconds",
            "HTTP request duration by route, method and status.",
            REQUEST_DURATION_BUCKETS,
        )
        self.registry.register(self.request_durations)
        self.cache_collector: CacheCollector | None = None

    def watch(self, cache: TwoTierCache, link: RedisLink) -> CacheCollector:
        self.cache_collector = CacheCollector(cache, link)
        self.registry.register(self.cache_collector)
        return self.cache_collector
