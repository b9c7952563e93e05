"""Reconciliation: the full lists now and then, beside the changes feed, to correct it.

The feed cannot see a deletion that no parent row or 404 revealed, nor a row created and never
updated; and it is worth proving that it sees everything else. Every --reconcile-interval the
full lists are read in small pages, one at a time, with gaps that keep them within
--lists-share of the API's time (a reconciliation of 5,000 load balancers spreads over about a
quarter of an hour). Then one feed round catches up with what changed while the pages were
read, and the lists are compared with the snapshot: what they correct is counted in
octavia_changes_feed_missed_total, by resource and reason. Objects the feed or a refresh changed
while the reconciliation ran are newer than its pages and are kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from exporter.logs import cloud_logger
from exporter.model.snapshot import FleetSnapshot
from exporter.octavia.lists import ListsFailed
from exporter.octavia.pacing import Pacer
from exporter.poll.publisher import Publisher
from exporter.poll.state import FleetState
from exporter.poll.stream import DetailStream
from exporter.poll.tier1 import Tier1
from exporter.telemetry import Telemetry

KINDS = (("loadbalancers", "loadbalancer"), ("listeners", "listener"), ("pools", "pool"),
         ("healthmonitors", "healthmonitor"), ("amphorae", "amphora"))


class PacedLists(Protocol):
    async def read(self, previous: FleetSnapshot | None, pace: Pacer | None = None,
                   loadbalancers_first: Callable[[FleetSnapshot], None] | None = None,
                   ) -> FleetSnapshot: ...

    async def loadbalancers(self, previous: FleetSnapshot | None,
                            pace: Pacer) -> Mapping[str, Any]: ...


def corrected(current: FleetSnapshot, full: FleetSnapshot, touched: set[str],
              ) -> tuple[FleetSnapshot, Counter[tuple[str, str]], set[str]]:
    """The lists of `current` corrected by `full`, what was corrected, by (resource, reason),
    and the load balancers to read again by id. Objects in `touched` keep their current state,
    and so do load balancers deleted while the lists were read (in `touched` too): their
    objects in the later lists are not brought back. An object the later lists no longer show
    under a load balancer the first list showed is kept, and its load balancer read again:
    the load balancer may have been deleted after its list was read (the read by id then
    answers 404 and removes it), or the object alone. Amphorae are the exception: no read by
    id brings them back, so one the list no longer shows is removed, and counted where its
    load balancer is still listed."""
    missed: Counter[tuple[str, str]] = Counter()
    suspect: set[str] = set()
    changes: dict[str, Any] = {}
    for name, resource in KINDS:
        now: Mapping[str, Any] = getattr(current, name)
        listed: Mapping[str, Any] = getattr(full, name)
        out = dict(now)
        for key, obj in listed.items():
            if key in touched or getattr(obj, "loadbalancer_id", None) in touched:
                continue
            old = now.get(key)
            if old is None:
                missed[resource, "absent"] += 1
                out[key] = obj
            elif old != obj:
                missed[resource, "changed"] += 1
                out[key] = obj
        for key, obj in now.items():
            if key in listed or key in touched:
                continue
            owner: str = getattr(obj, "loadbalancer_id", "")
            if name == "amphorae":
                # Listed after the load balancers, and no read by id brings amphorae back:
                # one the list no longer shows is gone, with its load balancer or alone.
                if owner in full.loadbalancers:
                    missed[resource, "deleted"] += 1
                del out[key]
                continue
            if name != "loadbalancers" and owner in full.loadbalancers:
                if owner not in touched:
                    suspect.add(owner)
                continue
            missed[resource, "deleted"] += 1
            del out[key]
        changes[name] = out
    return (dataclasses.replace(current, floating_ips=full.floating_ips, **changes), missed,
            suspect)


class Reconciler:
    def __init__(self, cloud: str, lists: PacedLists, tier1: Tier1, state: FleetState,
                 stream: DetailStream, publisher: Publisher, telemetry: Telemetry, *,
                 every: float, share: float,
                 after: Callable[[], Awaitable[None]] | None = None,
                 gone: Callable[[str], None] | None = None,
                 refresh: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        """`after`: after each reconciliation that succeeded (the inventory, the L7 rules).
        `gone`: removes a load balancer the load-balancer list no longer shows; `refresh`: asks
        for one load balancer to be read again by id."""
        self.cloud = cloud
        self._log = cloud_logger("exporter.scheduler", self.cloud)
        self._lists = lists
        self._tier1 = tier1
        self._state = state
        self._stream = stream
        self._publisher = publisher
        self._telemetry = telemetry.for_cloud(self.cloud)
        self._every = every
        self._share = share
        self._after = after
        self._gone = gone
        self._refresh = refresh
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        # While a reconciliation runs: its pacer (paused while a sweep reads) and whether its
        # load-balancer list is in.
        self._pacer: Pacer | None = None
        self._listed = False
        self.last_started = 0.0  # wall time of the last complete one
        self.last_missed: Counter[tuple[str, str]] = Counter()

    async def reconcile(self) -> bool:
        """One reconciliation; True when its lists were read. Never raises for API trouble."""
        try:
            return await self._reconcile()
        finally:
            self._pacer = None

    async def _reconcile(self) -> bool:
        started_wall, started = self._clock(), self._monotonic()
        pacer = Pacer(self._share, monotonic=self._monotonic, sleep=self._sleep)
        self._tier1.touched = set()
        known = set(self._state.snapshot.loadbalancers) if self._state.snapshot else set()

        def listed(lbs: FleetSnapshot) -> None:
            self._listed = True
            self._remove_unlisted(known, lbs.loadbalancers)

        self._pacer, self._listed = pacer, False
        try:
            full = await self._lists.read(self._state.snapshot, pace=pacer,
                                          loadbalancers_first=listed)
        except ListsFailed as exc:
            self._tier1.touched = None
            self._log.error("reconciliation_failed", endpoint=exc.error.endpoint,
                            reason=exc.error.reason, url=exc.error.url, detail=str(exc.error))
            return False
        if self._tier1.following:
            await self._tier1.run_feed()  # what changed while the pages were read
        async with self._tier1.lock:
            touched, self._tier1.touched = self._tier1.touched or set(), None
            current = self._state.snapshot
            if current is None:
                return False
            lists, missed, suspect = corrected(current, full, touched)
            for (resource, reason), count in missed.items():
                self._telemetry.feed_missed.labels(resource, reason).inc(count)
            if missed:
                self._log.warning("reconciliation_corrected",
                                  **{f"{r}_{why}": n for (r, why), n in sorted(missed.items())})
            self._stream.queue(self._state.install(lists, started_wall, self._publisher.merged),
                               after_lists=True)
            if self._refresh is not None:
                for lb_id in sorted(suspect):
                    self._refresh(lb_id)
            self.last_missed = missed
            self.last_started = started_wall
            took = self._monotonic() - started
            self._telemetry.reconciliation_duration.labels().set(took)
            self._log.info("reconciliation_done", duration_seconds=round(took, 3),
                           busy_seconds=round(pacer.busy, 3), corrected=sum(missed.values()))
            await self._publisher.now()
        if self._after is not None:
            await self._after()
        return True

    def _remove_unlisted(self, known: set[str], listed: Mapping[str, Any]) -> None:
        """A load-balancer list is in: the load balancers of `known` (the snapshot's when the
        list was started, so each existed before its pages were read) that it does not show
        are deleted, and go at once. Not a miss of the feed, which cannot see a deletion;
        counted apart."""
        current = self._state.snapshot
        if self._gone is None or current is None:
            return
        gone = [k for k in known if k not in listed and k in current.loadbalancers]
        for lb_id in gone:
            self._gone(lb_id)
        if gone:
            self._telemetry.reconciliation_removed.labels().inc(len(gone))
            self._log.info("reconciliation_removed", loadbalancers=len(gone),
                           ids=sorted(gone)[:20])

    async def sweep(self, running: Pacer | None = None) -> bool:
        """The load-balancer list alone, paced within the share: the load balancers it no
        longer shows go. The pages of `running` (the reconciliation under way) wait meanwhile,
        so the two keep within the share together and deletions do not wait behind four other
        lists' pages. True when the list was read."""
        current = self._state.snapshot
        if current is None:
            return False
        known = set(current.loadbalancers)
        pacer = Pacer(self._share, monotonic=self._monotonic, sleep=self._sleep)
        if running is not None:
            running.pause()
        try:
            listed = await self._lists.loadbalancers(current, pace=pacer)
        except ListsFailed as exc:
            self._log.error("deletion_sweep_failed", endpoint=exc.error.endpoint,
                            reason=exc.error.reason, url=exc.error.url, detail=str(exc.error))
            return False
        finally:
            if running is not None:
                running.resume()
        self._remove_unlisted(known, listed)
        return True

    async def run(self, first_done: float) -> None:
        """Reconcile every `every` seconds after the start of the one before (the first
        lists, started at monotonic `first_done`), for as long as tier 1 follows the feed.
        A reconciliation of a large fleet within --lists-share takes longer than `every`: while
        one runs, past its own load-balancer list, the load-balancer list alone is read again
        every `every` seconds, its own pages waiting meanwhile, so a deletion is gone within
        about `every` plus two such lists (one may have read its page just before the
        deletion) whatever the fleet's size."""
        await asyncio.gather(self._reconciliations(first_done), self._sweeps())

    async def _reconciliations(self, first_done: float) -> None:
        next_start = first_done + self._every
        while True:
            await self._sleep(max(0.0, next_start - self._monotonic()))
            next_start = self._monotonic() + self._every
            if self._tier1.following:
                await self.reconcile()

    async def _sweeps(self) -> None:
        while True:
            await self._sleep(self._every)
            pacer = self._pacer
            if pacer is not None and self._listed and self._tier1.following:
                await self.sweep(pacer)
