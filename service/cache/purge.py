"""DELETE /cache/{namespace}: every key of a namespace removed, fleet-wide,
in the background.

    start(ns) ─► this instance's memory entries of ns go at once
              ─► a job (the HTTP layer answers 202 with its Location)
    job, on each master (Link.masters(): a cluster's nodes, else the one link):
        SCAN cursor MATCH {prefix}:{ns}:* COUNT 1000, then the leases'
        {prefix}:~lease:{{prefix}:{ns}:* (never KEYS)
        ─► UNLINK each key found: one batch per SCAN page (one command per
           key: a cluster refuses a multi-key UNLINK across slots)
        ─► the other instances' memory follows: an UNLINK is a change their
           invalidation stream reports, as a DEL is; this instance's own
           changes are kept off its stream (NOLOOP), so it forgets them here
    Redis unavailable, at the start or midway ─► the outbox records the
        namespace: it is swept before Redis serves again (state "deferred")

Why not a namespace generation in every key (O(1) purge): it would change
the key layout `{prefix}:{namespace}:{key}` that docs/design.md, the ACL line
and the leases' hash tag are written against, hide every value stored
before the change (v1 and v2 alike) from the instances that know the
generation, and put a generation read in front of every GET (or a cached
generation with a coherence rule of its own). SCAN + UNLINK keeps all of
that; its cost is that the purge takes time (~1000 keys per round trip per
master) and covers what was stored before it began: a value written while
it runs may or may not survive it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from service.cache.batch import forget_namespace, forget_redis_keys
from service.cache.two_tier import TwoTierCache
from service.link.interface import Link

SCAN_COUNT = 1000
# Finished jobs kept for their Location (the oldest go first; running ones
# are always kept).
KEPT_JOBS = 64


@dataclass(slots=True)
class PurgeJob:
    id: str
    namespace: str
    # "running", "done", or "deferred" (Redis was unavailable: the outbox
    # sweeps the namespace when the link is back).
    state: str
    started_at_ms: int
    finished_at_ms: int | None = None
    # Keys removed from Redis so far (values and leases), and this
    # instance's memory entries dropped at the start.
    unlinked: int = 0
    forgotten: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "namespace": self.namespace, "state": self.state,
            "unlinked": self.unlinked, "forgottenInMemory": self.forgotten,
            "startedAtMs": self.started_at_ms, "finishedAtMs": self.finished_at_ms,
        }


class Purges:
    def __init__(
        self, cache: TwoTierCache, link: Link, retries: int, wall: Callable[[], float]
    ) -> None:
        self._cache = cache
        self._link = link
        self._retries = retries
        self._wall = wall
        self._jobs: dict[str, PurgeJob] = {}
        # The one running job of each namespace, whatever the jobs kept above:
        # however many DELETEs come, one SCAN per namespace at a time.
        self._running: dict[str, PurgeJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, namespace: str) -> PurgeJob:
        """The namespace's purge: the one already running, or a new one."""
        running = self._running.get(namespace)
        if running is not None:
            return running
        job = PurgeJob(secrets.token_hex(8), namespace, "running", self._now_ms())
        self._jobs[job.id] = job
        self._running[namespace] = job
        self._forget_old_jobs()
        job.forgotten = forget_namespace(self._cache, namespace)
        if self._cache.redis is None:
            self._finish(job, "done")
            return job
        task = asyncio.create_task(self._run(job), name=f"purge-{namespace}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def _forget_old_jobs(self) -> None:
        """Past KEPT_JOBS, the oldest finished jobs go; running ones stay
        (at most one per namespace), so their Location keeps answering."""
        excess = len(self._jobs) - KEPT_JOBS
        if excess <= 0:
            return
        finished = [job_id for job_id, job in self._jobs.items() if job.state != "running"]
        for job_id in finished[:excess]:
            del self._jobs[job_id]

    def find(self, job_id: str) -> PurgeJob | None:
        return self._jobs.get(job_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _run(self, job: PurgeJob) -> None:
        redis = self._cache.redis
        assert redis is not None
        patterns = (redis.pattern(job.namespace), redis.lease_pattern(job.namespace))
        link = self._link
        try:
            for scanner in link.masters():
                for pattern in patterns:
                    if not await self._sweep(job, scanner, pattern):
                        self._defer(job)
                        return
            held = self._cache.unconfirmed
            if held is not None and held.required:
                # Until a replica has the UNLINKs, a failover could bring the
                # namespace back: a reconnect before then sweeps it again.
                held.hold_namespace(job.namespace)
            self._finish(job, "done")
        except asyncio.CancelledError:
            self._defer(job)
            raise

    async def _sweep(self, job: PurgeJob, scanner: Link, pattern: str) -> bool:
        """UNLINK what `pattern` matches on `scanner`'s node; False when
        Redis could not be asked."""
        cursor: Any = b"0"
        while True:
            scan = ("SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT)
            replies = await scanner.execute((scan,), retries=self._retries)
            if replies is None:
                return False
            cursor, found = replies[0]
            if found:
                if await self._link.execute([("UNLINK", key) for key in found],
                                            retries=self._retries) is None:
                    return False
                job.unlinked += len(found)
                forget_redis_keys(self._cache, found)
            if cursor in (b"0", 0, "0"):
                return True

    def _defer(self, job: PurgeJob) -> None:
        if self._cache.outbox is not None:
            self._cache.outbox.purge(job.namespace)
        self._finish(job, "deferred")

    def _finish(self, job: PurgeJob, state: str) -> None:
        job.state = state
        job.finished_at_ms = self._now_ms()
        if self._running.get(job.namespace) is job:
            del self._running[job.namespace]

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)
