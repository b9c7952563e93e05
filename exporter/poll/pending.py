"""Load balancers a notification named, waiting for their refresh: debounced, deduplicated.

A burst of events for one load balancer becomes one refresh. Events that arrive while the bulk
lists are being read are handed out again after them, since the lists may predate the change."""

from __future__ import annotations

import asyncio

from exporter.model.parts import LoadBalancerEvent


class Pending:
    def __init__(self, debounce: float = 0.25) -> None:
        self._debounce = debounce
        self._events: dict[str, LoadBalancerEvent] = {}
        self._during_lists: dict[str, LoadBalancerEvent] = {}
        self._wakeup = asyncio.Event()

    def __len__(self) -> int:
        return len(self._events)

    def add(self, event: LoadBalancerEvent) -> None:
        earlier = self._events.get(event.loadbalancer_id)
        # A delete is never overwritten by an older update of the same burst.
        if earlier is None or event.deleted or not earlier.deleted:
            self._events[event.loadbalancer_id] = event
        self._during_lists[event.loadbalancer_id] = event
        self._wakeup.set()

    def lists_started(self) -> None:
        self._during_lists = {}

    def lists_done(self) -> None:
        """The lists read the fleet before these events: refresh them again."""
        if self._during_lists:
            self._events.update(self._during_lists)
            self._wakeup.set()

    async def batch(self) -> dict[str, LoadBalancerEvent]:
        """The next debounced batch (waits for one)."""
        while True:
            await self._wakeup.wait()
            await asyncio.sleep(self._debounce)
            self._wakeup.clear()
            batch, self._events = self._events, {}
            if batch:
                return batch
