"""The HTTP request-duration histogram, observed without locks.

prometheus-client's Histogram takes two threading locks and walks the
buckets in Python on every observation; requests are observed on the one
event-loop thread, so plain per-bucket counts and a bisect do, ~5 % of a
memory-hit GET. At scrape time the family is exposed exactly as a
prometheus-client Histogram exposes it (`_bucket` cumulative with `le`,
`_count`, `_sum`, `_created`): tests/service/test_request_durations.py holds
the two to the same text for the same observations.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from itertools import accumulate
from typing import TYPE_CHECKING

import prometheus_client.metrics
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import INF, floatToGoString

if TYPE_CHECKING:
    from aiohttp.web import Request

# (route, method, status) of one request-duration series.
RequestKey = tuple[str, str, int]
# Records one answer of a route: (the request, its status, seconds taken).
Observe = Callable[["Request", int, float], None]


class Series:
    """One label combination: observations per bucket (not cumulative), sum."""

    __slots__ = ("bounds", "counts", "created", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.total = 0.0
        self.created = time.time()

    def record(self, seconds: float) -> None:
        # The first bucket whose upper bound is >= seconds, as `le` means.
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.total += seconds


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
        self._series_for(key).record(seconds)

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

        def observe(_: Request, status: int, seconds: float) -> None:
            series = by_status.get(status)
            if series is None:
                series = by_status[status] = self._series_for((route, method, status))
            series.record(seconds)

        return observe

    def series(self, route: str, method: str, status: int) -> Series:
        """The series of one route, method and status, to be recorded into directly."""
        return self._series_for((route, method, status))

    def _series_for(self, key: RequestKey) -> Series:
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = Series(self._bounds)
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
