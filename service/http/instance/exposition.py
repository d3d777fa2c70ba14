"""/metrics for the whole instance: every worker's figures in one scrape.

    own exposition (no Redis probe) ─┐
    each sibling's, over its socket ─┼─> parse (prometheus_client's parser)
                                     └─> merge by family: every sample of
                                         every type once per worker,
                                         labelled worker="<slot>"
    + what the scrape's Redis probe read (used memory, maxmemory, PING),
      once, unlabelled: it describes Redis, not a worker
    + roleready_workers and roleready_worker_up{worker}: whose figures are in

Why not prometheus-client's multiprocess mode: it keeps every value in mmap
files in a shared writable directory, and it has no place for custom
collectors (this service's cache and link figures are all read at scrape
time by one), Info or state sets. Merging expositions keeps every collector
as it is, and costs only the scrape (a few ms for two workers), never a
request.

Why counters are not summed over the workers: a worker that restarts
starts its counters from zero, so a sum would drop by what the dead worker
had counted while the others' counts went on; rate() and increase() read
any drop as a reset and count the whole new sum as fresh increments, a
jump (RoleReadyRedisErrorsHigh fired on one). Per worker, only the restarted
worker's series resets, to its own small count, which is what rate() is
built for. The slot is the label, not the pid: a replacement takes its
predecessor's slot (gunicorn_app.py), so the series continue and the
number of series stays WORKERS. Queries aggregate with
`sum without (worker) (rate(...))`, which also works on a WORKERS=1
instance (no worker label at all).

Gauges are per worker as well: each worker has its own Redis link and
memory tier, so its up flag, state, entries and bytes describe it alone;
queries sum what adds up (entries, bytes) and keep the worst of the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from service.collectors import PREFIX, Metrics
from service.http.instance.peers import Peers, ask_siblings
from service.link.probe import ProbeResult

WORKER_LABEL = "worker"


async def instance_exposition(metrics: Metrics, peers: Peers, probe: ProbeResult | None) -> bytes:
    """The text a scrape of any worker answers: the instance's figures."""
    own = worker_exposition(metrics)
    answers = await ask_siblings(peers, "metrics")
    texts = {peers.slot: own, **{slot: text for slot, text in answers.items() if text}}
    families = merge({slot: parse(text) for slot, text in sorted(texts.items())})
    families += redis_side(metrics, probe)
    families += workers_present(peers.count, texts)
    return render(families)


def worker_exposition(metrics: Metrics) -> bytes:
    """This worker's own figures (what a sibling asks for): no probe figures,
    which the answering worker reads once for the instance."""
    return generate_latest(metrics.registry)


def parse(text: bytes) -> list[Metric]:
    return list(text_string_to_metric_families(text.decode()))


def merge(by_worker: Mapping[int, Iterable[Metric]]) -> list[Metric]:
    """Families of several workers as one, each sample labelled by its worker."""
    merged: dict[str, Metric] = {}
    for slot, families in by_worker.items():
        worker = str(slot)
        for family in families:
            target = merged.get(family.name)
            if target is None:
                target = merged[family.name] = Metric(
                    family.name, family.documentation, family.type, family.unit)
            target.samples.extend(
                Sample(s.name, {**s.labels, WORKER_LABEL: worker}, s.value, s.timestamp)
                for s in family.samples
            )
    return list(merged.values())


def redis_side(metrics: Metrics, probe: ProbeResult | None) -> list[Metric]:
    """The families the cache collector adds when it has a probe result.

    Found as the difference between a collection with and one without the
    probe, so a figure later added to the collector from the probe is
    reported once here too, not summed or repeated per worker.
    """
    collector = metrics.cache_collector
    if collector is None or probe is None:
        return []
    without = {family.name for family in collector.collect()}
    collector.last_probe = probe
    try:
        return [family for family in collector.collect() if family.name not in without]
    finally:
        collector.last_probe = None


def workers_present(count: int, texts: Mapping[int, bytes]) -> list[Metric]:
    configured = GaugeMetricFamily(f"{PREFIX}_workers", "Worker processes configured (WORKERS).",
                                   value=count)
    up = GaugeMetricFamily(f"{PREFIX}_worker_up",
                           "1 when this worker's figures are in this scrape (0: it did not "
                           "answer in time, e.g. while it restarts).", labels=[WORKER_LABEL])
    for slot in range(count):
        up.add_metric([str(slot)], int(slot in texts))
    return [configured, up]


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def render(families: list[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)
