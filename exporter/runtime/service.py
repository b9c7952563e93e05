"""The clouds' schedules under one roof: start and stop them, publish what they produce.

Each cloud runs on its own CloudScheduler (scheduler.py); this renders the fleet whenever one of
them has something new, one render at a time, and tells waiters (--once, /readyz, tests).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from exporter.export.exposition import Exposition
from exporter.model.parts import LoadBalancerEvent
from exporter.model.snapshot import CloudView
from exporter.poll.scheduler import CloudScheduler


class Service:
    def __init__(self, clouds: Sequence[CloudScheduler], exposition: Exposition) -> None:
        self.clouds = list(clouds)
        self._exposition = exposition
        self._tasks: list[asyncio.Task[None]] = []
        self._publish_lock = asyncio.Lock()
        self.cycle_done = asyncio.Condition()

    def views(self) -> list[CloudView]:
        return [c.view() for c in self.clouds]

    @property
    def ready(self) -> bool:
        """True once every cloud's first tier-1 cycle, successful or not, is on /metrics."""
        return all(c.cycles_published > 0 for c in self.clouds)

    @property
    def alive(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def publish(self) -> float:
        """Render every cloud's current view; return the seconds the render took."""
        async with self._publish_lock:
            # Cycles complete when the views are taken are on /metrics once rendered.
            completed = [c.health.cycles_completed for c in self.clouds]
            started = time.monotonic()
            await self._exposition.render(self.views())
            took = time.monotonic() - started
            for state, count in zip(self.clouds, completed, strict=True):
                state.cycles_published = max(state.cycles_published, count)
        async with self.cycle_done:
            self.cycle_done.notify_all()
        return took

    async def run_cycle(self, state: CloudScheduler) -> bool:
        """Tier 1 and one complete tier-2 pass for one cloud; True when tier 1 succeeded."""
        return await state.run_cycle()

    def on_event(self, cloud: str, event: LoadBalancerEvent) -> None:
        """A notification: refresh that load balancer soon, without waiting for the lists."""
        for state in self.clouds:
            if state.cloud == cloud:
                state.notify(event)

    async def start(self) -> None:
        await self.publish()
        for state in self.clouds:
            self._tasks += state.start()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for state in self.clouds:
            await state.stop()

    async def wait_cycles(self, count: int, timeout: float) -> None:
        """Block until every cloud has published `count` tier-1 cycles."""
        async def done() -> None:
            async with self.cycle_done:
                await self.cycle_done.wait_for(
                    lambda: all(c.cycles_published >= count for c in self.clouds))
        await asyncio.wait_for(done(), timeout)
