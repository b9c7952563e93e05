"""One cloud's schedule: tier 1 every interval, tier 2 as a continuous prioritised stream.

Tier 1 (the bulk lists) starts every --interval (longer when the lists would otherwise hold the
API more than --lists-share of the time), never overlapping itself, and is published as
soon as it is in, carrying over the detail of every object it still shows. Its failure (or
--cycle-timeout) is what sets octavia_up to 0; tier 2 cannot.

Tier 2 reads per-load-balancer detail (fetch.py) in the order plan.py gives, one load balancer
per worker, through the cloud's limiter at tier-2 priority so the lists always go first. Each
finished load balancer's detail joins a batch; the batch is merged into the published snapshot
and re-rendered when the stream runs dry or every PUBLISH_EVERY seconds, whichever is first,
so a render (seconds at 10,000 load balancers) is not paid per load balancer and every publish
holds whole load balancers only. The period stretches to RENDER_SHARE times the last publish's
cost (the merge and diff on this loop, the render in its thread), so periodic publishes take at
most a twentieth of the time while a pass runs (a render re-formats only the families whose
mappings changed: render.RenderCache).

After each tier 1 is published the inventory (inventory.py) is read, still at tier-1 priority,
and the next publish carries it. L7 rules (one list per policy, l7.py) are tier-2 reads: once
the inventory's policies are in, one task reads the rules of those that are due, at tier-2
priority, and the next publish carries them.

A "pass" starts when tier 2 has work and none is under way, and completes when every load
balancer planned at its start has been read: octavia_detail_pass_duration_seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import heapq
import itertools
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping

import structlog

from exporter.model import health, plan
from exporter.model.capabilities import Capabilities
from exporter.model.snapshot import CloudHealth, CloudView, FleetSnapshot, L7Policy, L7Rule, Member
from exporter.octavia import l7
from exporter.octavia.client import ApiError
from exporter.octavia.failures import KEYSTONE
from exporter.octavia.fetch import Detail, Fetcher
from exporter.octavia.limiter import TIER2, tier
from exporter.octavia.lists import ListReader, ListsFailed
from exporter.octavia.notifications import LoadBalancerEvent
from exporter.octavia.parse import ParseError
from exporter.octavia.refresh import read_subtree
from exporter.poll import assemble
from exporter.poll.observe import Observer
from exporter.poll.pending import Pending
from exporter.telemetry import Telemetry

log = structlog.get_logger("exporter.scheduler")
PUBLISH_EVERY = 5.0
RENDER_SHARE = 20.0


class CloudScheduler:
    def __init__(
        self,
        lists: ListReader,
        fetcher: Fetcher,
        rules: plan.Rules,
        capabilities: Capabilities,
        telemetry: Telemetry,
        publish: Callable[[], Awaitable[float]],
        *,
        interval: float,
        cycle_timeout: float,
        lists_share: float = plan.LISTS_SHARE,
        max_staleness: float,
        workers: int = 4,
        refresh_debounce: float = 0.25,
        publish_every: float = PUBLISH_EVERY,
        after_lists: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        rule_reader: l7.RuleReader | None = None,
    ) -> None:
        self.cloud = lists.cloud
        self.lists = lists
        self.fetcher = fetcher
        self.rules = rules
        self.capabilities = capabilities
        self._telemetry = telemetry
        self._publish = publish
        self._observer = Observer(telemetry, self.cloud, capabilities)
        self._interval = interval
        self._lists_share = lists_share
        self._cycle_timeout = cycle_timeout
        self._max_staleness = max_staleness
        self._workers = max(1, workers)
        self._publish_every = publish_every
        self._after_lists = after_lists
        self._clock = clock
        self._monotonic = monotonic
        self.health = CloudHealth(cloud=self.cloud, interval=interval)
        self.snapshot: FleetSnapshot | None = None
        self.pending = Pending(refresh_debounce)
        self.refreshes = 0
        # Tier-1 cycles whose result is on /metrics (set by whoever renders).
        self.cycles_published = 0
        self.last_lists_seconds = 0.0
        # Tier-2 bookkeeping, pruned to the current load balancers after every tier 1.
        self._parts: dict[str, plan.Parts] = {}
        # plan.applicable() of each, computed once per lists and kept in step with _parts:
        # tier 2 asks it for every read.
        self._applicable: dict[str, plan.Work] = {}
        self._read: dict[str, plan.ReadTimes] = {}
        self._heap: list[tuple[tuple[int, float], int, str]] = []
        self._queued: dict[str, tuple[tuple[int, float], int, plan.Work]] = {}
        self._seq = itertools.count()
        self._in_flight: set[str] = set()
        self._batch: list[tuple[Detail, float | None]] = []
        self._has_work = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._flush_now = asyncio.Event()
        self._batch_waiting = asyncio.Event()
        self._pass_started: float | None = None
        self._pass_left: set[str] = set()
        self.last_pass_seconds = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._lists_lock = asyncio.Lock()
        self._flush_lock = asyncio.Lock()
        self._last_publish = 0.0  # seconds: merge and diff, then render
        self._rule_reader = rule_reader
        self._rules_task: asyncio.Task[None] | None = None
        self._rules_update: dict[str, L7Rule] | None = None
        # The snapshot changed since the last publish without a batch (the inventory).
        self._changed = False
        self._inventory_read = False

    # -- what others read ---------------------------------------------------------------

    def view(self) -> CloudView:
        return CloudView(self.health, self.snapshot, self.capabilities)

    @property
    def backlog(self) -> int:
        """Load balancers waiting for their detail (queued, not yet being read)."""
        return len(self._queued)

    # -- tier 1 -------------------------------------------------------------------------

    async def run_lists(self) -> bool:
        """One tier-1 cycle, published; True on success. Never raises for API trouble."""
        async with self._lists_lock:
            return await self._run_lists()

    async def _run_lists(self) -> bool:
        started_wall, started = self._clock(), self._monotonic()
        ok = False
        self.pending.lists_started()
        try:
            lists = await asyncio.wait_for(self.lists.read(self.snapshot),
                                           timeout=self._cycle_timeout)
        except ListsFailed as exc:
            log.error("poll_cycle_failed", cloud=self.cloud, endpoint=exc.error.endpoint,
                      reason=exc.error.reason, url=exc.error.url, detail=str(exc.error))
        except TimeoutError:
            # Where it hung: the first list still unanswered (all of them in the detail).
            waiting = dict(self.lists.unanswered)
            url = next(iter(waiting.values()), "")
            detail = f"lists over {self._cycle_timeout:g} s" + (
                f"; unanswered: {', '.join(waiting)}" if waiting else "")
            self._telemetry.poll_error(self.cloud, "cycle", "timeout", url, detail)
            log.error("poll_cycle_timeout", cloud=self.cloud, endpoint="cycle",
                      reason="timeout", url=url, detail=detail,
                      timeout_seconds=self._cycle_timeout)
        else:
            ok = True
            self._install(lists, started_wall)
            self.pending.lists_done()
        self.last_lists_seconds = duration = self._monotonic() - started
        was_withdrawn = self.health.stale_withdrawn
        was_period = self.health.interval
        self.health = health.after_lists(self.health, ok=ok, now=self._clock(),
                                         duration=duration, max_staleness=self._max_staleness,
                                         has_snapshot=self.snapshot is not None,
                                         period=plan.lists_period(self._interval, duration,
                                                                  self._lists_share))
        if self.health.interval > self._interval and was_period == self._interval:
            log.warning("lists_interval_stretched", cloud=self.cloud,
                        lists_seconds=round(duration, 3), interval_seconds=self._interval,
                        next_in_seconds=round(self.health.interval, 3),
                        share=self._lists_share)
        elif self.health.interval == self._interval and was_period > self._interval:
            log.info("lists_interval_restored", cloud=self.cloud,
                     lists_seconds=round(duration, 3), interval_seconds=self._interval)
        if self.health.stale_withdrawn and not was_withdrawn:
            log.warning("fleet_data_withdrawn", cloud=self.cloud,
                        last_success=self.health.last_success,
                        max_staleness_seconds=self._max_staleness)
        self._telemetry.poll_cycles.labels(self.cloud, "success" if ok else "failure").inc()
        if self._after_lists is not None:
            self._after_lists()
        log.info("poll_cycle_done", cloud=self.cloud, ok=ok, duration_seconds=round(duration, 3),
                 started=started_wall, detail_backlog=self.backlog,
                 next_in_seconds=round(self.health.interval, 3),
                 **(self.snapshot.counts() if self.snapshot else {}))
        self._last_publish = await self._publish()
        if ok:
            await self._read_inventory(started)
        return ok

    async def _read_inventory(self, started: float) -> None:
        """The inventory, after tier 1 is published; its requests still go before tier 2's,
        within what is left of the cycle's timeout. The next batched publish carries it: at
        once if the stream is idle or this is the first (nothing of it is on /metrics yet)."""
        assert self.snapshot is not None
        left = max(1.0, self._cycle_timeout - (self._monotonic() - started))
        try:
            inventory = await asyncio.wait_for(self.lists.inventory(self.snapshot), timeout=left)
        except TimeoutError:
            detail = f"inventory over what --cycle-timeout left ({left:g} s); the last one stands"
            self._telemetry.poll_error(self.cloud, "inventory", "timeout", "", detail)
            log.error("inventory_timeout", cloud=self.cloud, endpoint="inventory",
                      reason="timeout", detail=detail, timeout_seconds=round(left, 3))
            return
        first = not self._inventory_read
        self._inventory_read = True
        before = self.snapshot
        self.snapshot = assemble.with_inventory(before, inventory)
        # On the first read the policies existed before we looked, as the fleet did.
        self._observer.observe(before, self.snapshot, unknown=False,
                               first_seen=frozenset({"l7policy"}) if first else frozenset())
        self._start_rules(before.l7policies, self.snapshot)
        self._changed = True
        self._batch_waiting.set()
        if first or self._idle.is_set():
            self._flush_now.set()

    def _install(self, lists: FleetSnapshot, now: float) -> None:
        """Swap in the new lists with the detail still valid, then plan tier 2."""
        before = self.snapshot
        new = assemble.carry(lists, before)
        new = self._merge_batch(new)
        parts = plan.index(new)
        applicable = {k: plan.applicable(p, self.rules) for k, p in parts.items()}
        # Nothing to read for these: their detail is complete as of the lists.
        bare = [k for k, w in applicable.items() if w.empty]
        if bare:
            new = dataclasses.replace(new, detail_read_at={
                **new.detail_read_at, **dict.fromkeys(bare, now)})
        self._observer.observe(before, new)
        previous_parts, self._parts, self.snapshot = self._parts, parts, new
        self._applicable = applicable
        for table in (self._read, self._queued):
            for lb_id in [k for k in table if k not in parts]:
                del table[lb_id]
        members_of: dict[str, list[Member]] = defaultdict(list)
        for member in new.members.values():
            members_of[member.loadbalancer_id].append(member)
        planned = plan.plan(parts, previous_parts, members_of, self._read, new.detail_read_at,
                            (), now, self.rules, applicable)
        for key, work in planned:
            if work.loadbalancer_id in self._in_flight and key[0] != plan.ATTENTION:
                continue  # being read right now, after these lists: that is this cycle's read
            self._enqueue(key, work)
        self._pass_left &= parts.keys()
        if self._pass_started is None and self._queued:
            self._pass_started = self._monotonic()
            self._pass_left = set(self._queued)
        elif self._pass_started is not None and not self._pass_left:
            self._pass_done()

    async def run_cycle(self) -> bool:
        """Tier 1, then one complete tier-2 pass of what is due, then publish (--once, tests)."""
        ok = await self.run_lists()
        self.start_stream()
        await self._idle.wait()
        if self._rules_task is not None:
            await asyncio.gather(self._rules_task, return_exceptions=True)
        await self.flush()
        return ok

    def _start_rules(self, before: Mapping[str, L7Policy], new: FleetSnapshot) -> None:
        """Read the rules of the policies that are due, unless a read is still under way (its
        policies are then read again after the next lists, if still due)."""
        if self._rule_reader is None or not new.l7policies:
            return
        if self._rules_task is not None and not self._rules_task.done():
            return
        reader = self._rule_reader

        async def read() -> None:
            try:
                self._rules_update = await reader.read(new.l7policies, before, new.l7rules,
                                                       self._monotonic())
            except Exception:  # a bug must cost the rules' freshness, not the scheduler
                log.exception("l7_rules_read_crashed", cloud=self.cloud)
                return
            self._batch_waiting.set()
            if self._idle.is_set():
                # While the stream runs, its next batched publish carries the rules: a render
                # of their own would cost a fleet's render for a few rules.
                self._flush_now.set()

        with tier(TIER2):
            self._rules_task = asyncio.create_task(read(), name=f"l7-rules-{self.cloud}")

    async def loop(self) -> None:
        next_start = self._monotonic()
        while True:
            await self.run_lists()
            next_start += self.health.interval
            now = self._monotonic()
            if next_start < now:
                # The lists overran: start the next now rather than firing a backlog.
                next_start = now
            await asyncio.sleep(next_start - now)

    # -- tier 2 -------------------------------------------------------------------------

    def _enqueue(self, key: tuple[int, float], work: plan.Work) -> None:
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
        self._idle.clear()
        self._has_work.set()

    async def _next(self) -> tuple[str, plan.Work]:
        while True:
            while self._heap:
                _, seq, lb_id = heapq.heappop(self._heap)
                queued = self._queued.get(lb_id)
                if queued is not None and queued[1] == seq:
                    del self._queued[lb_id]
                    self._in_flight.add(lb_id)
                    return lb_id, queued[2]
            self._has_work.clear()
            self._check_idle()
            await self._has_work.wait()

    def _check_idle(self) -> None:
        if not self._queued and not self._in_flight:
            self._idle.set()
            self._flush_now.set()

    async def _worker(self) -> None:
        while True:
            lb_id, work = await self._next()
            try:
                parts = self._parts.get(lb_id)
                if parts is not None:
                    known = self.snapshot.listener_stats if self.snapshot is not None else {}
                    detail = await self.fetcher.read(parts, work, self._clock, known)
                    self._record(detail)
            except Exception:  # a bug must cost one load balancer's detail, not a worker
                log.exception("detail_read_crashed", cloud=self.cloud, loadbalancer_id=lb_id)
            finally:
                self._in_flight.discard(lb_id)
                self._pass_left.discard(lb_id)
                if self._pass_started is not None and not self._pass_left:
                    self._pass_done()
                self._check_idle()

    def _record(self, detail: Detail) -> None:
        lb_id = detail.loadbalancer_id
        if lb_id not in self._parts:
            return  # vanished from the lists while being read
        times = self._read.setdefault(lb_id, plan.ReadTimes())
        for part in detail.complete:
            setattr(times, part, detail.read_at)
        # The load balancer's detail is as old as its oldest part; unknown while a part has
        # never been read.
        applicable = self._applicable[lb_id]
        wanted: list[float | None] = []
        if applicable.tree or applicable.member_pools:
            wanted.append(times.members)
        if applicable.stats:
            wanted.append(times.stats)
        if applicable.amphorae:
            wanted.append(times.amphorae)
        known = [t for t in wanted if t is not None]
        stamp = None if len(known) < len(wanted) else min(known, default=detail.read_at)
        self._batch.append((detail, stamp))
        self._batch_waiting.set()

    def _pass_done(self) -> None:
        if self._pass_started is None:
            return
        self.last_pass_seconds = self._monotonic() - self._pass_started
        self._telemetry.detail_pass_duration.labels(self.cloud).set(self.last_pass_seconds)
        log.info("detail_pass_done", cloud=self.cloud,
                 duration_seconds=round(self.last_pass_seconds, 3))
        self._pass_started = None
        self._flush_now.set()
        if self._queued:
            self._pass_started = self._monotonic()
            self._pass_left = set(self._queued) | self._in_flight

    def _merge_batch(self, snapshot: FleetSnapshot) -> FleetSnapshot:
        batch, self._batch = self._batch, []
        rules, self._rules_update = self._rules_update, None
        self._batch_waiting.clear()
        if rules is not None:
            snapshot = dataclasses.replace(snapshot, l7rules=assemble.kept(assemble.rules_of(
                snapshot.l7policies, {**snapshot.l7rules, **rules}), snapshot.l7rules))
        return assemble.merge(snapshot, batch)

    async def flush(self) -> None:
        """Merge the waiting details into the published snapshot and publish it. Returns once
        any flush already under way has been published too."""
        async with self._flush_lock:
            if self.snapshot is None or not (
                    self._batch or self._rules_update is not None or self._changed):
                return
            self._changed = False
            started = self._monotonic()
            before = self.snapshot
            self.snapshot = self._merge_batch(before)
            self._observer.observe(before, self.snapshot, unknown=False)
            merged = self._monotonic() - started
            self._last_publish = merged + await self._publish()

    async def _flusher(self) -> None:
        while True:
            await self._batch_waiting.wait()
            period = max(self._publish_every, RENDER_SHARE * self._last_publish)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), period)
            self._flush_now.clear()
            await self.flush()

    def start_stream(self) -> None:
        """Start the tier-2 workers (idempotent); they wait while there is nothing to read."""
        if self._tasks:
            return
        with tier(TIER2):
            self._tasks = [asyncio.create_task(self._worker(), name=f"detail-{self.cloud}-{i}")
                           for i in range(self._workers)]

    # -- notifications ------------------------------------------------------------------

    def notify(self, event: LoadBalancerEvent) -> None:
        self.pending.add(event)

    async def refresher(self) -> None:
        while True:
            batch = await self.pending.batch()
            if self.snapshot is None:
                continue
            # One after the other, each on the current snapshot, so that two load balancers
            # refreshed together do not undo each other.
            for event in batch.values():
                await self._refresh_one(event)
            self._changed = False  # this publish carries the inventory too
            await self._publish()
            now = time.time()
            for event in batch.values():
                if event.timestamp is not None:
                    self._telemetry.notification_latency.labels(self.cloud).observe(
                        max(0.0, now - event.timestamp))

    async def _refresh_one(self, event: LoadBalancerEvent) -> None:
        lb_id = event.loadbalancer_id
        if not plan.in_shard(lb_id, self.rules.shard) or self.snapshot is None:
            return
        try:
            subtree = None if event.deleted else await read_subtree(self.fetcher.client, lb_id)
        except (ApiError, ParseError) as exc:
            reason = exc.reason if isinstance(exc, ApiError) else "malformed"
            url = exc.url if isinstance(exc, ApiError) else ""
            # A Keystone failure stays Keystone's, whatever call needed the token.
            endpoint = (KEYSTONE if isinstance(exc, ApiError) and exc.endpoint == KEYSTONE
                        else "refresh")
            self._telemetry.poll_error(self.cloud, endpoint, reason, url, str(exc))
            log.warning("refresh_failed", cloud=self.cloud, endpoint=endpoint,
                        loadbalancer_id=lb_id, reason=reason, url=url)
            return
        before = self.snapshot
        if subtree is None:
            updated = assemble.without(before, lb_id)
            self._parts.pop(lb_id, None)
            self._applicable.pop(lb_id, None)
            self._queued.pop(lb_id, None)
            self._check_idle()
        else:
            updated = assemble.with_subtree(before, subtree)
            parts = plan.index_one(updated, lb_id)
            self._parts[lb_id] = parts
            work = self._applicable[lb_id] = plan.applicable(parts, self.rules)
            if not work.empty:
                self._enqueue((plan.NOTIFIED, updated.detail_read_at.get(lb_id, 0.0)), work)
        self._observer.observe(before, updated, unknown=False)
        self.snapshot = updated
        self.refreshes += 1

    def start(self) -> list[asyncio.Task[None]]:
        """Serve: the lists on schedule, the stream, batched publishes (run_cycle alone publishes
        once, at the end of its pass) and notification refreshes."""
        self.start_stream()
        return [asyncio.create_task(self._flusher(), name=f"flush-{self.cloud}"),
                asyncio.create_task(self.loop(), name=f"poll-{self.cloud}"),
                asyncio.create_task(self.refresher(), name=f"refresh-{self.cloud}")]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        if self._rules_task is not None:
            tasks.append(self._rules_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
