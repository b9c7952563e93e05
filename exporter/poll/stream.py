"""Tier 2: per-load-balancer detail as a continuous prioritised stream.

One load balancer per worker, in the order plan.py gives, through the cloud's limiter at tier-2
priority so that tier 1 always goes first. Each finished read goes to the publisher's batch. A
"pass" starts when the stream has work and none is under way, and completes when every load
balancer planned at its start has been read: octavia_detail_pass_duration_seconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from exporter.logs import cloud_logger
from exporter.model import plan
from exporter.model.parts import Detail
from exporter.model.snapshot import Stats
from exporter.octavia.limiter import TIER2, tier
from exporter.poll.state import FleetState, Planned
from exporter.telemetry import Telemetry

# Seconds between two progress lines of a pass (a pass of thousands of load balancers at the
# default rate budget takes many minutes, --once included).
PROGRESS_EVERY = 10.0


class DetailSource(Protocol):
    """Reads one load balancer's detail (octavia.fetch.Fetcher)."""

    async def read(self, parts: plan.Parts, work: plan.Work, clock: Callable[[], float],
                   known: Mapping[str, Stats] | None = None) -> Detail: ...


class Sink(Protocol):
    """Where finished reads go (the publisher)."""

    def add(self, detail: Detail, stamp: float | None) -> None: ...

    def publish_soon(self) -> None: ...


class DetailStream:
    def __init__(self, cloud: str, state: FleetState, source: DetailSource, sink: Sink,
                 telemetry: Telemetry, *, workers: int, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 gone: Callable[[str], None] | None = None) -> None:
        """`gone`: called with a load balancer whose detail read answered 404."""
        self.cloud = cloud
        self._log = cloud_logger("exporter.scheduler", self.cloud)
        self._state = state
        self._source = source
        self._sink = sink
        self._telemetry = telemetry.for_cloud(self.cloud)
        self._workers = max(1, workers)
        self._clock = clock
        self._monotonic = monotonic
        self._gone = gone
        self._heap: list[tuple[tuple[int, float], int, str]] = []
        self._queued: dict[str, tuple[tuple[int, float], int, plan.Work]] = {}
        self._seq = itertools.count()
        self.in_flight: set[str] = set()
        self._has_work = asyncio.Event()
        self.idle = asyncio.Event()
        self.idle.set()
        self._pass_started: float | None = None
        self._pass_left: set[str] = set()
        self._pass_size = 0
        self._progress_at = 0.0
        self.last_pass_seconds = 0.0
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def backlog(self) -> int:
        """Load balancers waiting for their detail (queued, not yet being read)."""
        return len(self._queued)

    def queue(self, planned: Planned, *, after_lists: bool = False) -> None:
        """Add planned reads. `after_lists`: the plan of complete lists, which also prunes the
        load balancers gone from them and may start or finish a pass."""
        if after_lists:
            for lb_id in [k for k in self._queued if k not in self._state.parts]:
                del self._queued[lb_id]
        for key, work in planned:
            if work.loadbalancer_id in self.in_flight and key[0] > plan.ATTENTION:
                continue  # being read right now, after these lists: that is this cycle's read
            self.enqueue(key, work)
        if not after_lists:
            return
        self._pass_left &= self._state.parts.keys()
        if self._pass_started is None and self._queued:
            self._begin_pass(set(self._queued))
        elif self._pass_started is not None and not self._pass_left:
            self._pass_done()

    def drop(self, lb_id: str) -> None:
        self._queued.pop(lb_id, None)
        self._check_idle()

    def enqueue(self, key: tuple[int, float], work: plan.Work) -> None:
        lb_id = work.loadbalancer_id
        queued = self._queued.get(lb_id)
        if queued is not None:
            work = work.union(queued[2])
            if queued[0] <= key:
                self._queued[lb_id] = (queued[0], queued[1], work)
                return
        seq = next(self._seq)
        self._queued[lb_id] = (key, seq, work)
        heapq.heappush(self._heap, (key, seq, lb_id))
        self.idle.clear()
        self._has_work.set()

    async def _next(self) -> tuple[str, plan.Work]:
        while True:
            while self._heap:
                _, seq, lb_id = heapq.heappop(self._heap)
                queued = self._queued.get(lb_id)
                if queued is not None and queued[1] == seq:
                    del self._queued[lb_id]
                    self.in_flight.add(lb_id)
                    return lb_id, queued[2]
            self._has_work.clear()
            self._check_idle()
            await self._has_work.wait()

    def _check_idle(self) -> None:
        if not self._queued and not self.in_flight:
            self.idle.set()
            self._sink.publish_soon()

    async def _worker(self) -> None:
        while True:
            lb_id, work = await self._next()
            try:
                parts = self._state.parts.get(lb_id)
                if parts is not None:
                    snapshot = self._state.snapshot
                    known = snapshot.listener_stats if snapshot is not None else {}
                    detail = await self._source.read(parts, work, self._clock, known)
                    if detail.gone and self._gone is not None:
                        self._gone(lb_id)
                    else:
                        here, stamp = self._state.record(detail)
                        if here:
                            self._sink.add(detail, stamp)
            except Exception:  # a bug must cost one load balancer's detail, not a worker
                self._log.exception("detail_read_crashed", loadbalancer_id=lb_id)
            finally:
                self.in_flight.discard(lb_id)
                self._pass_left.discard(lb_id)
                if self._pass_started is not None and not self._pass_left:
                    self._pass_done()
                else:
                    self._progress()
                self._check_idle()

    def _pass_done(self) -> None:
        if self._pass_started is None:
            return
        self.last_pass_seconds = self._monotonic() - self._pass_started
        self._telemetry.detail_pass_duration.labels().set(self.last_pass_seconds)
        self._log.info("detail_pass_done", duration_seconds=round(self.last_pass_seconds, 3))
        self._pass_started = None
        self._sink.publish_soon()
        if self._queued:
            self._begin_pass(set(self._queued) | self.in_flight)

    def _begin_pass(self, planned: set[str]) -> None:
        self._pass_started = self._progress_at = self._monotonic()
        self._pass_left = planned
        self._pass_size = len(planned)

    def _progress(self) -> None:
        """A line every PROGRESS_EVERY seconds while a pass runs: how far, and how long to go
        at the pace so far."""
        if self._pass_started is None:
            return
        now = self._monotonic()
        if now - self._progress_at < PROGRESS_EVERY:
            return
        self._progress_at = now
        done = self._pass_size - len(self._pass_left)
        elapsed = now - self._pass_started
        eta = elapsed / done * len(self._pass_left) if done else None
        self._log.info("detail_pass_progress", read=done, planned=self._pass_size,
                       percent=round(100.0 * done / max(1, self._pass_size), 1),
                       elapsed_seconds=round(elapsed, 1),
                       eta_seconds=None if eta is None else round(eta, 1))

    def start(self) -> None:
        """Start the workers (idempotent); they wait while there is nothing to read."""
        if self._tasks:
            return
        with tier(TIER2):
            self._tasks = [asyncio.create_task(self._worker(), name=f"detail-{self.cloud}-{i}")
                           for i in range(self._workers)]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
