"""The link the settings ask for, with its state machine(s) and journal(s).

    REDIS_CLUSTER_NODES ─► ClusterLink: a "cluster" stream for the slot map,
                            one RedisLink (and stream) per master
    otherwise           ─► RedisLink: REDIS_URL, or the master the sentinels
                            name; no Redis at all when REDIS_URL is empty

Every stream logs through its own logger (`roleready.redis`, or
`roleready.redis.<stream>` in a cluster), each with its own error throttle.
"""

from __future__ import annotations

import logging

from service.config import Settings
from service.link.cluster import ClusterLink
from service.link.driver import RedisLink
from service.link.factory import (
    ClientFactory,
    client_factory,
    cluster_options,
    master_switches,
    node_factory,
)
from service.link.interface import Link
from service.link.slotmap import SlotMap
from statemachine.clock import Clock
from statemachine.eventlog import LinkEventLogger
from statemachine.journal import Journal
from statemachine.lifecycle import ConnectionLifecycle
from statemachine.throttle import ErrorLogThrottle


def build_link(settings: Settings, clock: Clock) -> Link:
    if settings.redis_enabled and settings.redis_cluster_nodes:
        return _cluster_link(settings, clock)
    return _redis_link(
        settings, clock, "roleready.redis",
        client_factory(settings) if settings.redis_enabled else None,
        lazy=settings.redis_lazy_connect,
    )


def _lifecycle(settings: Settings, clock: Clock, logger: str) -> ConnectionLifecycle:
    journal = Journal(settings.journal_capacity)
    journal.subscribe(LinkEventLogger(logging.getLogger(logger), ErrorLogThrottle(every=10)))
    return ConnectionLifecycle(clock, settings.backoff_policy, journal)


def _redis_link(
    settings: Settings, clock: Clock, logger: str, factory: ClientFactory | None, *, lazy: bool
) -> RedisLink:
    return RedisLink(
        _lifecycle(settings, clock, logger),
        factory,
        clock=clock,
        lazy=lazy,
        health_check_interval_s=settings.redis_health_check_interval_ms / 1000,
        command_timeout_s=settings.redis_command_timeout_ms / 1000,
        connect_timeout_s=settings.redis_connect_timeout_ms / 1000,
        tracking_prefix=f"{settings.cache_key_prefix}:",
        switches=master_switches(settings),
    )


def _cluster_link(settings: Settings, clock: Clock) -> ClusterLink:
    def node_link(address: str) -> RedisLink:
        host, _, port = address.rpartition(":")
        factory = node_factory(settings, host, int(port))
        # A master found in the map connects at once: the cluster is in use.
        return _redis_link(settings, clock, f"roleready.redis.{address}", factory, lazy=False)

    return ClusterLink(
        _lifecycle(settings, clock, "roleready.redis.cluster"),
        SlotMap(settings.redis_cluster_nodes, lambda: cluster_options(settings)),
        node_link,
        clock=clock,
        lazy=settings.redis_lazy_connect,
        refresh_timeout_s=(settings.redis_connect_timeout_ms + settings.redis_command_timeout_ms)
        / 1000,
    )
