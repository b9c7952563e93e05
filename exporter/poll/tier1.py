"""Tier 1: every object's status, from the full lists once, then from the changes feed.

The first read is the full lists (small pages, one at a time). After that, every --interval,
one round of the changes feed (changes.py) reads only the rows written since the last round and
merges them; a changed load balancer's detail goes to the head of the tier-2 stream. A
reconciliation (reconcile.py) re-reads the full lists now and then, paced within --lists-share,
to catch what the feed cannot see. octavia_up follows every round: the API refusing, timing out
or failing a round sets it to 0 within an interval.

An API that refuses or ignores sort=updated_at (an old release, a policy) gets the full lists
every cycle instead, stretched to --lists-share as before the feed: said once in the log and in
octavia_changes_feed_enabled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping

from exporter.logs import cloud_logger
from exporter.model import health, plan
from exporter.model.parts import Delta
from exporter.model.snapshot import CloudHealth, FleetSnapshot
from exporter.octavia.errors import ApiError
from exporter.octavia.feed import FeedUnusable
from exporter.octavia.lists import ListsFailed
from exporter.poll.deleting import DELETING, DeletionWatch
from exporter.poll.publisher import Publisher
from exporter.poll.sources import Feed, FullLists
from exporter.poll.state import FleetState
from exporter.poll.stream import DetailStream
from exporter.telemetry import Telemetry

# A feed round is a handful of small requests (about a second on a busy API): one still
# unanswered after this long (half the interval, at least 5 s for an API that has just
# restarted) means the API is in trouble, and octavia_up must say so within an interval rather
# than after every retry of every request.
ROUND_TIMEOUT = 12.0


class Tier1:
    def __init__(self, cloud: str, lists: FullLists, state: FleetState, stream: DetailStream,
                 publisher: Publisher, telemetry: Telemetry, *, interval: float,
                 cycle_timeout: float, lists_share: float, max_staleness: float,
                 feed: Feed | None = None, refresh: Callable[[str], None] | None = None,
                 after_lists: Callable[[], Awaitable[None]] | None = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        """`refresh`: read one load balancer's subtree by id soon; `after_lists`: after each
        full lists (the inventory, the L7 rules)."""
        self.cloud = cloud
        self._log = cloud_logger("exporter.scheduler", self.cloud)
        self.lists = lists
        self.feed = feed
        self._state = state
        self._stream = stream
        self._publisher = publisher
        self._telemetry = telemetry.for_cloud(self.cloud)
        self._interval = interval
        self._cycle_timeout = cycle_timeout
        self._lists_share = lists_share
        self._max_staleness = max_staleness
        self._round_timeout = min(cycle_timeout, ROUND_TIMEOUT, max(5.0, interval / 2))
        self._refresh = refresh
        self._after_lists = after_lists
        self._clock = clock
        self._monotonic = monotonic
        self.health = CloudHealth(cloud=cloud, interval=interval)
        self.last_lists_seconds = 0.0
        self.last_success_started = 0.0
        # Wall time the last successful full lists started (the feed's rounds do not count).
        self.last_full_lists_started = 0.0
        # Where each list of the feed stands (API time).
        self.watermarks: dict[str, float] = {}
        # Ids the feed or a refresh changed since the running reconciliation started.
        self.touched: set[str] | None = None
        self.lock = asyncio.Lock()
        self._needs_lists = False
        self._deleting = DeletionWatch()
        self._telemetry.feed_enabled.labels().set(1 if feed is not None else 0)

    @property
    def following(self) -> bool:
        """True while rounds are feed rounds (after the first lists, unless it fell back)."""
        return (self.feed is not None and self._state.snapshot is not None
                and not self._state.partial)

    # -- the full lists -----------------------------------------------------------------

    async def run_lists(self) -> bool:
        """The full lists, installed and published; True on success. Never raises for API
        trouble."""
        async with self.lock:
            started_wall, started = self._clock(), self._monotonic()
            lists = await self._read_lists()
            ok = lists is not None
            if lists is not None:
                self.watermarks = dict(getattr(self.lists, "newest", {}))
                self._stream.queue(self._state.install(lists, started_wall,
                                                       self._publisher.merged),
                                   after_lists=True)
                self._needs_lists = False
            self._after(ok, started_wall, started, stretch=not self.following, source="lists")
            await self._publisher.now()
        if ok and self._after_lists is not None:
            await self._after_lists()
        return ok

    async def _read_lists(self) -> FleetSnapshot | None:
        previous = None if self._state.partial else self._state.snapshot
        try:
            if previous is None and self.feed is not None:
                # Every load balancer's state on /metrics as soon as their list is in; the
                # other kinds when the lists are (never half of one).
                return await asyncio.wait_for(
                    self.lists.read(None, loadbalancers_first=self._loadbalancers_in),
                    timeout=self._cycle_timeout)
            return await asyncio.wait_for(self.lists.read(previous),
                                          timeout=self._cycle_timeout)
        except ListsFailed as exc:
            self._log.error("poll_cycle_failed", endpoint=exc.error.endpoint,
                            reason=exc.error.reason, url=exc.error.url, detail=str(exc.error))
        except TimeoutError:
            self._timed_out("lists", self._cycle_timeout, self.lists.unanswered)
        return None

    def _timed_out(self, what: str, timeout: float, unanswered: Mapping[str, str]) -> None:
        """Where a round hung: the first list still unanswered (all of them in the detail)."""
        waiting = dict(unanswered)
        url = next(iter(waiting.values()), "")
        detail = f"{what} over {timeout:g} s" + (
            f"; unanswered: {', '.join(waiting)}" if waiting else "")
        self._telemetry.poll_error("cycle", "timeout", url, detail)
        self._log.error("poll_cycle_timeout", endpoint="cycle", reason="timeout",
                        url=url, detail=detail, timeout_seconds=timeout)

    def _loadbalancers_in(self, partial: FleetSnapshot) -> None:
        # The API has answered a whole list: octavia_up says so beside the states it shows,
        # rather than 0 until the slower (or paced, --startup-share) other lists are in.
        if self.health.cycles_completed == 0:
            self.health = dataclasses.replace(self.health, up=True)
        self._state.publishable(partial)
        self._state.partial = True
        self._publisher.changed(soon=True)

    # -- the changes feed ---------------------------------------------------------------

    async def run_feed(self) -> bool:
        """One round of the changes feed, merged and published; True on success."""
        assert self.feed is not None and self._state.snapshot is not None
        async with self.lock:
            started_wall, started = self._clock(), self._monotonic()
            ok = False
            try:
                delta = await asyncio.wait_for(self._read_round(self.feed, self._state.snapshot),
                                               timeout=self._round_timeout)
            except FeedUnusable as exc:
                self._fall_back(exc)
            except ApiError as exc:
                self._telemetry.poll_error(exc.endpoint, exc.reason, exc.url,
                                           str(exc))
                self._log.error("poll_cycle_failed", endpoint=exc.endpoint,
                                reason=exc.reason, url=exc.url, detail=str(exc))
            except TimeoutError:
                self._timed_out("changes feed", self._round_timeout,
                                self.feed.unanswered if self.feed is not None else {})
            else:
                ok = True
                self._merge(delta, started_wall)
            self._after(ok, started_wall, started, stretch=False, source="feed")
            # A failed round is news too: octavia_up 0 on /metrics now.
            await self._publisher.now()
        if ok and self._after_lists is not None:
            # The inventory is a handful of small lists (L7 policies, quotas, offerings).
            await self._after_lists()
        return ok

    async def _read_round(self, feed: Feed, snapshot: FleetSnapshot) -> Delta:
        delta = await feed.read(self.watermarks, snapshot)
        return dataclasses.replace(delta, floating_ips=await self.lists.floating_ips(snapshot))

    def _merge(self, delta: Delta, now: float) -> None:
        for name, stamp in delta.newest.items():
            self.watermarks[name] = max(stamp, self.watermarks.get(name, stamp))
        for resource, rows in (("loadbalancer", delta.loadbalancers),
                               ("listener", delta.listeners), ("pool", delta.pools),
                               ("healthmonitor", delta.healthmonitors),
                               ("amphora", delta.amphorae)):
            if rows:
                self._telemetry.feed_rows.labels(resource).inc(len(rows))
        delta = self._state.news(delta)
        if not delta.complete:
            self._log.warning("changes_feed_overflow",
                              detail="more changed rows than one round reads: reconciling now")
            self._needs_lists = True
        if not delta.empty:
            if self.touched is not None:
                for rows in (delta.loadbalancers, delta.listeners, delta.pools,
                             delta.healthmonitors, delta.amphorae):
                    self.touched.update(rows)
                self.touched.update(delta.deleted_amphorae)
            planned, incomplete = self._state.apply(delta, now)
            self._stream.queue(planned)
            for lb_id in incomplete | delta.suspect:
                self._ask_refresh(lb_id)
        self._check_deleting()
        if self._stream.idle.is_set():
            # The stream ran dry: the next pass starts now, as after full lists.
            self._stream.queue(self._state.replan(now), after_lists=True)

    def _check_deleting(self) -> None:
        """Load balancers in PENDING_DELETE are read again until one answers 404
        (deleting.py)."""
        snapshot = self._state.snapshot
        if snapshot is None:
            return
        for lb_id in self._deleting.due(k for k, lb in snapshot.loadbalancers.items()
                                        if lb.provisioning_status == DELETING):
            self._ask_refresh(lb_id)

    def _ask_refresh(self, lb_id: str) -> None:
        if self._refresh is not None:
            self._refresh(lb_id)

    def _fall_back(self, exc: FeedUnusable) -> None:
        self._log.warning("changes_feed_unusable", endpoint=exc.endpoint,
                          reason=exc.reason, url=exc.url, detail=str(exc),
                          fallback="the full lists every cycle, stretched to --lists-share")
        self._telemetry.poll_error(exc.endpoint, exc.reason, exc.url, str(exc))
        self._telemetry.feed_enabled.labels().set(0)
        self.feed = None

    # -- health -------------------------------------------------------------------------

    def _after(self, ok: bool, started_wall: float, started: float, *, stretch: bool,
               source: str) -> None:
        self.last_lists_seconds = duration = self._monotonic() - started
        if ok:
            self.last_success_started = started_wall
            if source == "lists":
                self.last_full_lists_started = started_wall
        was_withdrawn = self.health.stale_withdrawn
        was_period = self.health.interval
        period = (plan.lists_period(self._interval, duration, self._lists_share) if stretch
                  else self._interval)
        self.health = health.after_lists(self.health, ok=ok, now=self._clock(),
                                         duration=duration, max_staleness=self._max_staleness,
                                         has_snapshot=self._state.snapshot is not None,
                                         period=period)
        if self.health.interval > self._interval and was_period == self._interval:
            self._log.warning("lists_interval_stretched", lists_seconds=round(duration, 3),
                              interval_seconds=self._interval,
                              next_in_seconds=round(self.health.interval, 3),
                              share=self._lists_share)
        elif self.health.interval == self._interval and was_period > self._interval:
            self._log.info("lists_interval_restored", lists_seconds=round(duration, 3),
                           interval_seconds=self._interval)
        if self.health.stale_withdrawn and not was_withdrawn:
            self._log.warning("fleet_data_withdrawn", last_success=self.health.last_success,
                              max_staleness_seconds=self._max_staleness)
        self._telemetry.poll_cycles.labels("success" if ok else "failure").inc()
        snapshot = self._state.snapshot
        self._log.info("poll_cycle_done", ok=ok, duration_seconds=round(duration, 3),
                       started=started_wall, detail_backlog=self._stream.backlog,
                       next_in_seconds=round(self.health.interval, 3),
                       source=source,
                       **(snapshot.counts() if snapshot else {}))

    # -- the loop -----------------------------------------------------------------------

    async def round(self) -> bool:
        """One tier-1 round: the feed when following it, else the full lists."""
        if self.following and not self._needs_lists:
            return await self.run_feed()
        return await self.run_lists()

    async def loop(self) -> None:
        next_start = self._monotonic()
        while True:
            await self.round()
            next_start += self.health.interval
            now = self._monotonic()
            if next_start < now:
                # The round overran: start the next now rather than firing a backlog.
                next_start = now
            await asyncio.sleep(next_start - now)

