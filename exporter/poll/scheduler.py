"""One cloud's schedule: tier 1 every interval, tier 2 as a continuous prioritised stream.

The jobs, each a class of its own over one FleetState:
  tier1.Tier1            the full lists once, then one round of the changes feed every
                         --interval (octavia_up follows each round);
  reconcile.Reconciler   the full lists every --reconcile-interval, paced within
                         --lists-share, correcting what the feed missed;
  stream.DetailStream    per-load-balancer detail, highest priority first;
  publisher.Publisher    batches of finished reads onto /metrics.
After each full lists the inventory (inventory.py) is read, still at tier-1 priority, and the
next publish carries it; then the L7 rules of the policies that are due (l7.py), at tier-2
priority. A notification (or a load balancer the feed shows only in part) has the load
balancer's subtree read by id and its detail put at the head of the stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from exporter.logs import cloud_logger
from exporter.model import plan
from exporter.model.capabilities import Capabilities
from exporter.model.parts import LoadBalancerEvent, Subtree
from exporter.model.snapshot import CloudHealth, CloudView, FleetSnapshot, L7Policy
from exporter.octavia import l7
from exporter.octavia.fetch import Fetcher
from exporter.octavia.limiter import TIER2, tier
from exporter.octavia.lists import ListReader
from exporter.octavia.refresh import read_subtree
from exporter.poll import assemble
from exporter.poll.observe import Observer
from exporter.poll.pending import Pending
from exporter.poll.publisher import PUBLISH_EVERY, Publisher
from exporter.poll.reconcile import Reconciler
from exporter.poll.refresher import Refresher
from exporter.poll.sources import Feed
from exporter.poll.state import FleetState
from exporter.poll.stream import DetailStream
from exporter.poll.tier1 import Tier1
from exporter.telemetry import Telemetry

# Reconcile every this many intervals unless --reconcile-interval says otherwise.
RECONCILE_INTERVALS = 10


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
        feed: Feed | None = None,
        reconcile_interval: float = 0.0,
        subtrees: Callable[[str], Awaitable[Subtree | None]] | None = None,
    ) -> None:
        """`feed`: follow the changes feed after the first lists (None: the full lists every
        cycle); `reconcile_interval` 0: RECONCILE_INTERVALS x `interval`."""
        self.cloud = lists.cloud
        self._log = cloud_logger("exporter.scheduler", self.cloud)
        self.lists = lists
        self.fetcher = fetcher
        self.rules = rules
        self.capabilities = capabilities
        self._telemetry = telemetry.for_cloud(self.cloud)
        self._clock = clock
        self._monotonic = monotonic
        self._settle = after_lists
        self._observer = Observer(telemetry, self.cloud, capabilities)
        self.state = FleetState(rules, self._observer)
        self.publisher = Publisher(self.state, publish, publish_every=publish_every,
                                   monotonic=monotonic)
        self.stream = DetailStream(self.cloud, self.state, fetcher, self.publisher, telemetry,
                                   workers=workers, clock=clock, monotonic=monotonic,
                                   gone=self._gone)
        self.tier1 = Tier1(self.cloud, lists, self.state, self.stream, self.publisher,
                           telemetry, interval=interval, cycle_timeout=cycle_timeout,
                           lists_share=lists_share, max_staleness=max_staleness, feed=feed,
                           refresh=lambda lb_id: self.refresher.ask(lb_id),
                           after_lists=self._after_lists,
                           clock=clock, monotonic=monotonic)
        self.reconciler = Reconciler(
            self.cloud, lists, self.tier1, self.state, self.stream, self.publisher, telemetry,
            every=reconcile_interval or RECONCILE_INTERVALS * interval, share=lists_share,
            after=self._after_lists, gone=self._gone,
            refresh=lambda lb_id: self.refresher.ask(lb_id), clock=clock, monotonic=monotonic)
        self.refresher = Refresher(
            self.cloud, rules, self.state, self.tier1, self.stream, self.publisher, telemetry,
            subtrees or (lambda lb_id: read_subtree(fetcher.client, lb_id)),
            debounce=refresh_debounce, clock=clock)
        self._cycle_timeout = cycle_timeout
        self._rule_reader = rule_reader
        self._rules_task: asyncio.Task[None] | None = None
        self._inventory_read = False
        self._tasks: list[asyncio.Task[None]] = []
        self._telemetry.feed_lag.labels().set_function(self._feed_lag)
        self._telemetry.reconciliation_age.labels().set_function(self._reconciliation_age)

    # -- what others read ---------------------------------------------------------------

    @property
    def snapshot(self) -> FleetSnapshot | None:
        return self.state.snapshot

    @property
    def health(self) -> CloudHealth:
        return self.tier1.health

    @property
    def last_lists_seconds(self) -> float:
        return self.tier1.last_lists_seconds

    @property
    def last_pass_seconds(self) -> float:
        return self.stream.last_pass_seconds

    @property
    def backlog(self) -> int:
        return self.stream.backlog

    @property
    def _parts(self) -> dict[str, plan.Parts]:
        return self.state.parts

    @property
    def _read(self) -> dict[str, plan.ReadTimes]:
        return self.state.read

    def view(self) -> CloudView:
        return CloudView(self.health, self.snapshot, self.capabilities)

    def _feed_lag(self) -> float:
        started = self.tier1.last_success_started
        return max(0.0, self._clock() - started) if started else 0.0

    def _reconciliation_age(self) -> float:
        # Until a reconciliation is complete, the full lists read at start-up stand for one.
        started = self.reconciler.last_started or self.tier1.last_full_lists_started
        return max(0.0, self._clock() - started) if started else 0.0

    # -- tier 1 -------------------------------------------------------------------------

    async def run_lists(self) -> bool:
        """One tier-1 round (the full lists at first, then the changes feed), published; True
        on success. Never raises for API trouble."""
        self.pending.lists_started()
        ok = await self.tier1.round()
        if ok:
            self.pending.lists_done()
        return ok

    async def _after_lists(self) -> None:
        if self._settle is not None:
            self._settle()
        await self._read_inventory()

    async def _read_inventory(self) -> None:
        """The inventory, after full lists are published; its requests still go before tier
        2's. The next batched publish carries it: at once if the stream is idle or this is
        the first (nothing of it is on /metrics yet)."""
        snapshot = self.state.snapshot
        if snapshot is None:
            return
        try:
            inventory = await asyncio.wait_for(self.lists.inventory(snapshot),
                                               timeout=self._cycle_timeout)
        except TimeoutError:
            detail = (f"inventory over --cycle-timeout ({self._cycle_timeout:g} s); the last "
                      "one stands")
            self._telemetry.poll_error("inventory", "timeout", "", detail)
            self._log.error("inventory_timeout", endpoint="inventory",
                            reason="timeout", detail=detail, timeout_seconds=self._cycle_timeout)
            return
        first = not self._inventory_read
        self._inventory_read = True
        async with self.tier1.lock:
            before = self.state.snapshot
            assert before is not None
            new = assemble.with_inventory(before, inventory)
            # On the first read the policies existed before we looked, as the fleet did.
            self.state.publishable(new, frozenset({"l7policy"}) if first else frozenset())
        self._start_rules(before.l7policies, new)
        self.publisher.changed(soon=first or self.stream.idle.is_set())

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
                rules = await reader.read(new.l7policies, before, new.l7rules,
                                          self._monotonic())
            except Exception:  # a bug must cost the rules' freshness, not the scheduler
                self._log.exception("l7_rules_read_crashed")
                return
            self.publisher.rules(rules)
            if self.stream.idle.is_set():
                # While the stream runs, its next batched publish carries the rules: a render
                # of their own would cost a fleet's render for a few rules.
                self.publisher.publish_soon()

        with tier(TIER2):
            self._rules_task = asyncio.create_task(read(), name=f"l7-rules-{self.cloud}")

    async def run_cycle(self) -> bool:
        """Tier 1, then one complete tier-2 pass of what is due, then publish (--once, tests)."""
        ok = await self.run_lists()
        self.start_stream()
        await self.stream.idle.wait()
        if self._rules_task is not None:
            await asyncio.gather(self._rules_task, return_exceptions=True)
        await self.flush()
        return ok

    async def loop(self) -> None:
        await self.tier1.loop()

    # -- tier 2 -------------------------------------------------------------------------

    def start_stream(self) -> None:
        self.stream.start()

    async def flush(self) -> None:
        await self.publisher.flush()

    def _gone(self, lb_id: str) -> None:
        """A detail read answered 404: the load balancer is deleted."""
        self.state.remove(lb_id)
        self.stream.drop(lb_id)
        if self.tier1.touched is not None:
            self.tier1.touched.add(lb_id)
        self.publisher.changed(soon=True)

    # -- refreshes (notifications, and load balancers the feed shows only in part) -----

    def notify(self, event: LoadBalancerEvent) -> None:
        self.refresher.add(event)

    async def _refresh_one(self, event: LoadBalancerEvent) -> None:
        await self.refresher.refresh_one(event)

    @property
    def refreshes(self) -> int:
        return self.refresher.refreshes

    @property
    def pending(self) -> Pending:
        return self.refresher.pending

    # -- running ------------------------------------------------------------------------

    def start(self) -> list[asyncio.Task[None]]:
        """Serve: tier 1 on schedule, reconciliation, the stream, batched publishes (run_cycle
        alone publishes once, at the end of its pass) and refreshes."""
        self.start_stream()
        return [asyncio.create_task(self.publisher.run(), name=f"flush-{self.cloud}"),
                asyncio.create_task(self.loop(), name=f"poll-{self.cloud}"),
                asyncio.create_task(self.reconciler.run(self._monotonic()),
                                    name=f"reconcile-{self.cloud}"),
                asyncio.create_task(self.refresher.run(), name=f"refresh-{self.cloud}")]

    async def stop(self) -> None:
        await self.stream.stop()
        if self._rules_task is not None:
            self._rules_task.cancel()
            await asyncio.gather(self._rules_task, return_exceptions=True)
