"""Batched publishing: finished detail reads, L7 rules and tier-1 changes onto /metrics.

Each finished load balancer's detail joins a batch; the batch is merged into the published
snapshot and re-rendered when the stream runs dry or every PUBLISH_EVERY seconds, whichever is
first, so a render (seconds at 10,000 load balancers) is not paid per load balancer and every
publish holds whole load balancers only. The period stretches to RENDER_SHARE times the last
publish's cost (the merge and diff on this loop, the render in its thread), so periodic
publishes take at most a twentieth of the time while a pass runs (a render re-formats only the
families whose mappings changed: render.RenderCache).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable

from exporter.model.parts import Detail
from exporter.model.share import kept
from exporter.model.snapshot import FleetSnapshot, L7Rule
from exporter.poll import assemble
from exporter.poll.state import FleetState

PUBLISH_EVERY = 5.0
RENDER_SHARE = 20.0


class Publisher:
    def __init__(self, state: FleetState, publish: Callable[[], Awaitable[float]], *,
                 publish_every: float = PUBLISH_EVERY,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """`publish`: renders every cloud's current view; returns the seconds it took."""
        self._state = state
        self._publish = publish
        self._publish_every = publish_every
        self._monotonic = monotonic
        self._batch: list[tuple[Detail, float | None]] = []
        self._rules: dict[str, L7Rule] | None = None
        # The snapshot changed since the last publish without a batch (inventory, changes).
        self._changed = False
        self._flush_now = asyncio.Event()
        self._waiting = asyncio.Event()
        self._lock = asyncio.Lock()
        self.last_cost = 0.0  # seconds: merge and diff, then render

    # -- what the others hand over -------------------------------------------------------

    def add(self, detail: Detail, stamp: float | None) -> None:
        self._batch.append((detail, stamp))
        self._waiting.set()

    def rules(self, rules: dict[str, L7Rule]) -> None:
        self._rules = rules
        self._waiting.set()

    def changed(self, *, soon: bool = False) -> None:
        """The state's snapshot changed outside a batch; `soon`: publish without waiting for
        the period."""
        self._changed = True
        self._waiting.set()
        if soon:
            self._flush_now.set()

    def publish_soon(self) -> None:
        self._flush_now.set()

    # -- publishing ----------------------------------------------------------------------

    def merged(self, snapshot: FleetSnapshot) -> FleetSnapshot:
        """`snapshot` with the waiting batch and rules merged in; they are taken."""
        batch, self._batch = self._batch, []
        rules, self._rules = self._rules, None
        self._waiting.clear()
        if rules is not None:
            snapshot = dataclasses.replace(snapshot, l7rules=kept(assemble.rules_of(
                snapshot.l7policies, {**snapshot.l7rules, **rules}), snapshot.l7rules))
        return assemble.merge(snapshot, batch)

    async def now(self) -> None:
        """Publish the current state as it is (tier-1 results), carrying nothing waiting."""
        self._changed = False
        self.last_cost = await self._publish()

    async def flush(self) -> None:
        """Merge what is waiting into the published snapshot and publish it. Returns once any
        flush already under way has been published too."""
        async with self._lock:
            snapshot = self._state.snapshot
            if snapshot is None or not (self._batch or self._rules is not None
                                        or self._changed):
                return
            self._changed = False
            started = self._monotonic()
            self._state.publishable(self.merged(snapshot))
            merged = self._monotonic() - started
            self.last_cost = merged + await self._publish()

    async def run(self) -> None:
        while True:
            await self._waiting.wait()
            period = max(self._publish_every, RENDER_SHARE * self.last_cost)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), period)
            self._flush_now.clear()
            await self.flush()
