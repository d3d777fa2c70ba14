"""Prometheus metrics of one app: its registry, and the cache and link
figures read at scrape time.

Counters that already exist as projections or plain counters (the link's
view, `CacheStats`) are not copied into prometheus-client objects on every
request; a custom collector reads them when /metrics is scraped. Request
durations are service/request_durations.py's. Each app has its own
registry, so several apps in one process (tests) never clash; the standard
process_* and python_* collectors of prometheus-client are registered on it
too (they read the process at scrape time and keep no state of their own).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
)
from prometheus_client.registry import Collector

from service.build import build
from service.byte_budget import ByteBudget
from service.cache.durable_outbox import DurableOutbox
from service.cache.outbox import Outbox
from service.cache.stats import LeaseStats
from service.cache.two_tier import TwoTierCache
from service.link.interface import Link
from service.link.probe import ProbeResult
from service.probe_metrics import probe_metrics
from service.request_durations import RequestDurations
from service.unconfirmed_metrics import unconfirmed_metrics
from statemachine.states import State

PREFIX = "roleready"
STATES = [state.value for state in State]
# roleready_cache_namespace_lookups_total{result}: as roleready_cache_lookups_total's.
NAMESPACE_RESULTS = ("hit_memory", "hit_redis", "miss")
REQUEST_DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
)


class CacheCollector(Collector):
    """Reads the cache counters and the link's projection at scrape time."""

    def __init__(self, cache: TwoTierCache, link: Link, leases: LeaseStats) -> None:
        self._cache = cache
        self._link = link
        self._leases = leases
        # Filled by the /metrics handler right before a scrape (bounded probe).
        self.last_probe: ProbeResult | None = None

    def collect(self) -> Iterator[Metric]:
        yield from self._cache_metrics()
        yield from self._lease_metrics()
        yield from self._link_metrics()

    def _lease_metrics(self) -> Iterator[Metric]:
        leases = self._leases
        for name, value, text in (
            ("issued", leases.issued, "Lease tokens handed out on `?lease=1` misses."),
            ("taken_over", leases.taken_over,
             "Tokens handed to a waiter after the lease was given back or ran out."),
            ("expired", leases.expired,
             "Tokens handed to a waiter after the previous lease ran out."),
            ("filled", leases.filled, "Waiters answered with the holder's value (hit-fill)."),
            ("refused", leases.refused, "PUTs with a token that was not the lease (409)."),
            ("released", leases.released, "Leases given back by their holder."),
            ("turned_away", leases.turned_away,
             "Misses answered `pending` at once: the waiters' bound was reached."),
        ):
            yield CounterMetricFamily(f"{PREFIX}_leases_{name}", text, value=value)
        yield GaugeMetricFamily(f"{PREFIX}_lease_waiters",
                                "Requests waiting for a lease holder's value.",
                                value=leases.waiters)

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
        lookups.add_metric(["hit_redis"], stats.redis_hits + stats.coalesced_hits)
        lookups.add_metric(["miss"], stats.misses)
        yield hits
        yield misses
        yield lookups
        yield self._namespace_lookups()
        yield CounterMetricFamily(f"{PREFIX}_cache_sets", "PUTs stored.", value=stats.sets)
        yield CounterMetricFamily(
            f"{PREFIX}_cache_coalesced_reads",
            "Memory misses answered by another request's Redis read of the same key.",
            value=stats.coalesced_reads,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_cache_invalidations_received",
            "Keys named by Redis's invalidation messages (a flush counts one).",
            value=stats.invalidations_received,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_cache_invalidated",
            "Memory entries dropped because Redis said their key changed or was flushed.",
            value=stats.invalidated,
        )
        tags = self._cache.tags
        yield CounterMetricFamily(
            f"{PREFIX}_cache_tag_invalidations",
            "Tags invalidated through this instance (POST /cache/{namespace}/_invalidate).",
            value=tags.invalidations,
        )
        yield CounterMetricFamily(
            f"{PREFIX}_cache_tag_invalidated_reads",
            "Entries found on read to carry a tag invalidated since they were written.",
            value=tags.found_invalidated,
        )
        outbox = self._cache.outbox
        yield GaugeMetricFamily(
            f"{PREFIX}_cache_outbox_keys",
            "Keys whose last PUT or DELETE has not reached Redis yet (replayed at reconnect).",
            value=len(outbox) if outbox is not None else 0,
        )
        yield from _state_file_metrics(outbox)
        yield CounterMetricFamily(
            f"{PREFIX}_cache_forgotten_at_reconnect",
            "Memory entries dropped when the link reconnected (invalidations may have been lost).",
            value=stats.forgotten_at_reconnect,
        )
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
        yield CounterMetricFamily(
            f"{PREFIX}_memory_cache_expirations",
            "Memory entries found past their TTL by a lookup and dropped.",
            value=memory.expirations,
        )

    def _namespace_lookups(self) -> Metric:
        """GET outcomes per configured namespace (zero until the first)."""
        stats = self._cache.stats
        family = CounterMetricFamily(
            f"{PREFIX}_cache_namespace_lookups",
            "GET outcomes per namespace: answered from memory, from Redis, or a miss.",
            labels=["namespace", "result"],
        )
        for namespace in sorted(self._cache.namespace_ttls_ms):
            for result, counts in zip(
                NAMESPACE_RESULTS,
                (stats.namespace_memory_hits, stats.namespace_redis_hits, stats.namespace_misses),
                strict=True,
            ):
                family.add_metric([namespace, result], counts.get(namespace, 0))
        return family

    def _link_metrics(self) -> Iterator[Metric]:
        view = self._link.view
        state = self._link.state
        yield StateSetMetricFamily(
            f"{PREFIX}_redis_connection_state",
            "The Redis connection state machine's current state.",
            value={name: name == state for name in STATES},
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_up", "1 while the Redis link is ready.", value=int(self._link.is_ready())
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
        yield CounterMetricFamily(
            f"{PREFIX}_redis_outbox_replays", "Outbox replays at reconnect.", value=view.replays_total
        )
        yield CounterMetricFamily(
            f"{PREFIX}_redis_outbox_overflows",
            "Replays that swept whole namespaces because the outbox overflowed.",
            value=view.outbox_overflows_total,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_redis_reconnect_attempts",
            "Reconnect attempts since the link was last ready.",
            value=view.reconnect_attempts,
        )
        yield from self._topology_metrics()
        yield from self._memory_metrics()
        yield from unconfirmed_metrics(self._cache.unconfirmed, view, PREFIX)

    def _topology_metrics(self) -> Iterator[Metric]:
        """Where the link talks to: the mode, and each master (a cluster's
        several, with their slots) and whether its link is ready."""
        topology = self._link.topology()
        info = InfoMetricFamily(f"{PREFIX}_redis_topology", "How Redis is found.",
                                labels=["mode"])
        info.add_metric([topology["mode"]], {})
        yield info
        nodes = topology.get("nodes")
        if nodes is None:  # one master: the link's own state is the node's
            master = topology.get("master")
            nodes = [] if master is None else [{"address": master, "state": self._link.state}]
        up = GaugeMetricFamily(f"{PREFIX}_redis_node_up",
                               "1 while the link to this master is ready.", labels=["node"])
        slots = GaugeMetricFamily(f"{PREFIX}_redis_node_slots",
                                  "Cluster slots this master serves.", labels=["node"])
        for node in nodes:
            up.add_metric([node["address"]], int(node["state"] == State.READY))
            if "slots" in node:
                slots.add_metric([node["address"]], node["slots"])
        yield up
        if slots.samples:
            yield slots

    def _memory_metrics(self) -> Iterator[Metric]:
        if self.last_probe is not None:
            yield from probe_metrics(self.last_probe, PREFIX)


class Metrics:
    """The app's registry, its request-duration histogram and the count of
    `overloaded` refusals (a 503 the histogram cannot tell from `not_stored`)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.request_durations = RequestDurations(
            f"{PREFIX}_http_request_duration_seconds",
            "HTTP request duration by route, method and status.",
            REQUEST_DURATION_BUCKETS,
        )
        self.registry.register(self.request_durations)
        self.overloaded = Counter(
            f"{PREFIX}_http_overloaded", "Requests refused with 503 `overloaded` (a limit of "
            "requests in progress, or CACHE_INFLIGHT_MAX_BYTES).", registry=self.registry)
        for standard in (ProcessCollector, PlatformCollector, GCCollector):
            standard(registry=self.registry)
        Info(f"{PREFIX}_build", "What this process runs: the service's, Python's and "
             "redis-py's versions.", registry=self.registry).info(build().labels())
        self.cache_collector: CacheCollector | None = None

    def watch_budget(self, budget: ByteBudget) -> None:
        """The byte budget's figures, read at scrape time; its refusals counted."""
        budget.refused = self.overloaded.inc
        Gauge(f"{PREFIX}_http_inflight_bytes", "Request and answer bytes held now against "
              "CACHE_INFLIGHT_MAX_BYTES.", registry=self.registry
              ).set_function(lambda: budget.held)
        Gauge(f"{PREFIX}_http_inflight_max_bytes", "CACHE_INFLIGHT_MAX_BYTES.",
              registry=self.registry).set_function(lambda: budget.limit)

    def watch(self, cache: TwoTierCache, link: Link, leases: LeaseStats) -> CacheCollector:
        self.cache_collector = CacheCollector(cache, link, leases)
        self.registry.register(self.cache_collector)
        return self.cache_collector


def _state_file_metrics(outbox: Outbox | None) -> Iterator[Metric]:
    """CACHE_STATE_DIR's figures (only with a state directory)."""
    if not isinstance(outbox, DurableOutbox):
        return
    yield CounterMetricFamily(
        f"{PREFIX}_cache_outbox_state_restored_keys",
        "Outage writes taken over at start from the state files of stopped processes.",
        value=outbox.restored_keys,
    )
    yield CounterMetricFamily(
        f"{PREFIX}_cache_outbox_state_damaged_files",
        "State files of stopped processes read only up to their last whole record.",
        value=outbox.damaged_files,
    )
    yield CounterMetricFamily(
        f"{PREFIX}_cache_outbox_state_write_failures",
        "Appends or fsyncs to this process's state file that failed (held in memory only).",
        value=outbox.write_failures,
    )
