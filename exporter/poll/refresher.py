"""Refreshes: one load balancer's subtree read by id, when a notification names it or the
changes feed shows it only in part, and its detail put at the head of the tier-2 stream.

Octavia notifies only load-balancer create/update/delete; the feed shows the rest. Each batch
of named load balancers (debounced, pending.py) is read one after the other, each on the
current snapshot, so that two refreshed together do not undo each other.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from exporter.logs import cloud_logger
from exporter.model import plan
from exporter.model.parts import LoadBalancerEvent, Subtree
from exporter.octavia.errors import ApiError
from exporter.octavia.failures import KEYSTONE
from exporter.octavia.parse import ParseError
from exporter.poll.pending import Pending
from exporter.poll.publisher import Publisher
from exporter.poll.state import FleetState
from exporter.poll.stream import DetailStream
from exporter.poll.tier1 import Tier1
from exporter.telemetry import Telemetry

REFRESH = "octavia.loadbalancer.update.end"


class Refresher:
    def __init__(self, cloud: str, rules: plan.Rules, state: FleetState, tier1: Tier1,
                 stream: DetailStream, publisher: Publisher, telemetry: Telemetry,
                 subtrees: Callable[[str], Awaitable[Subtree | None]], *,
                 debounce: float = 0.25, clock: Callable[[], float] = time.time) -> None:
        """`subtrees`: reads one load balancer's subtree by id (None: it is gone)."""
        self.cloud = cloud
        self._log = cloud_logger("exporter.scheduler", self.cloud)
        self._rules = rules
        self._state = state
        self._tier1 = tier1
        self._stream = stream
        self._publisher = publisher
        self._telemetry = telemetry.for_cloud(self.cloud)
        self._subtrees = subtrees
        self._clock = clock
        self.pending = Pending(debounce)
        self.refreshes = 0

    def add(self, event: LoadBalancerEvent) -> None:
        self.pending.add(event)

    def ask(self, lb_id: str) -> None:
        """Refresh `lb_id` soon (the feed showed it only in part)."""
        self.pending.add(LoadBalancerEvent(REFRESH, lb_id, None))

    async def run(self) -> None:
        while True:
            batch = await self.pending.batch()
            if self._state.snapshot is None:
                continue
            for event in batch.values():
                await self.refresh_one(event)
            await self._publisher.now()
            now = self._clock()
            for event in batch.values():
                if event.timestamp is not None:
                    self._telemetry.notification_latency.labels().observe(
                        max(0.0, now - event.timestamp))

    async def refresh_one(self, event: LoadBalancerEvent) -> None:
        lb_id = event.loadbalancer_id
        if not plan.in_shard(lb_id, self._rules.shard) or self._state.snapshot is None:
            return
        try:
            subtree = None if event.deleted else await self._subtrees(lb_id)
        except (ApiError, ParseError) as exc:
            reason = exc.reason if isinstance(exc, ApiError) else "malformed"
            url = exc.url if isinstance(exc, ApiError) else ""
            # A Keystone failure stays Keystone's, whatever call needed the token.
            endpoint = (KEYSTONE if isinstance(exc, ApiError) and exc.endpoint == KEYSTONE
                        else "refresh")
            self._telemetry.poll_error(endpoint, reason, url, str(exc))
            self._log.warning("refresh_failed", endpoint=endpoint,
                              loadbalancer_id=lb_id, reason=reason, url=url)
            return
        async with self._tier1.lock:
            touched = self._tier1.touched
            if touched is not None:
                touched.add(lb_id)
                if subtree is not None:
                    touched.update([*subtree.listeners, *subtree.pools,
                                    *subtree.healthmonitors])
            if subtree is None:
                self._state.remove(lb_id)
                self._stream.drop(lb_id)
            else:
                work = self._state.replace(subtree)
                snapshot = self._state.snapshot
                if not work.empty and snapshot is not None:
                    self._stream.enqueue(
                        (plan.NOTIFIED, snapshot.detail_read_at.get(lb_id, 0.0)), work)
        self.refreshes += 1
