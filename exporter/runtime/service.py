"""The clouds' pollers under one roof: start and stop them, publish what they produce.

Each cloud runs on its own poller (poll/scheduler.py's CloudScheduler); this renders the fleet
whenever one of them has something new, one render at a time, keeps count of the cycles that
are on /metrics, and tells waiters (--once, /readyz, tests).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from exporter.export.exposition import Exposition
from exporter.model.parts import LoadBalancerEvent
from exporter.model.snapshot import CloudView

# Render every cloud's current view onto /metrics; the seconds the render took.
Publish = Callable[[], Awaitable[float]]


class Poller(Protocol):
    """What the runtime needs of one cloud's poller."""

    @property
    def cloud(self) -> str:
        """The cloud's label."""

    @property
    def backlog(self) -> int:
        """Load balancers whose detail is due and not yet read (octavia_detail_backlog)."""

    def view(self) -> CloudView:
        """The current snapshot, health and capabilities, as they are now."""

    def notify(self, event: LoadBalancerEvent) -> None:
        """A notification named this load balancer: refresh it soon."""

    async def run_cycle(self) -> bool:
        """Tier 1, then one complete tier-2 pass, then publish; True when tier 1 succeeded."""

    def start(self) -> list[asyncio.Task[None]]:
        """Run on schedule until stopped; the tasks that do it."""

    async def stop(self) -> None:
        """Stop what start() and run_cycle() left running (the tasks are cancelled first)."""


class Service:
    def __init__(self, exposition: Exposition,
                 pollers: Callable[[Publish], Sequence[Poller]]) -> None:
        """`pollers` builds the clouds' pollers, each given this service's publish."""
        self._exposition = exposition
        self._tasks: list[asyncio.Task[None]] = []
        self._publish_lock = asyncio.Lock()
        self.cycle_done = asyncio.Condition()
        self.clouds: tuple[Poller, ...] = tuple(pollers(self.publish))
        # Per cloud, the tier-1 cycles whose results are on /metrics.
        self._published = [0] * len(self.clouds)

    def views(self) -> list[CloudView]:
        return [c.view() for c in self.clouds]

    @property
    def ready(self) -> bool:
        """True once every cloud's first tier-1 cycle, successful or not, is on /metrics."""
        return all(count > 0 for count in self._published)

    @property
    def alive(self) -> bool:
        return bool(self._tasks) and not any(t.done() for t in self._tasks)

    async def publish(self) -> float:
        """Render every cloud's current view; return the seconds the render took."""
        async with self._publish_lock:
            views = self.views()
            # The cycles complete in the views taken are on /metrics once they are rendered.
            completed = [view.health.cycles_completed for view in views]
            started = time.monotonic()
            await self._exposition.render(views)
            took = time.monotonic() - started
            self._published = [max(published, count) for published, count
                               in zip(self._published, completed, strict=True)]
        async with self.cycle_done:
            self.cycle_done.notify_all()
        return took

    async def run_cycle(self, state: Poller) -> bool:
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
                    lambda: all(published >= count for published in self._published))
        await asyncio.wait_for(done(), timeout)
