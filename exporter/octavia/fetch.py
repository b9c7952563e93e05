"""Per-load-balancer readers: status tree, member lists, stats, amphora stats.

Used by the tier-2 stream and by the notification refresh alike, so both read a load balancer
the same way. A failed call is counted and logged here and leaves that part out of the
`Detail`, so the snapshot keeps the part's last known values.

Listener statistics come from the amphorae where the plan says they can: Octavia keeps one row
per (listener, amphora), and an amphora's stats call lists its rows in one query, where a
listener's stats call loads the listener and every row's amphora (on the real API of
tests/integration a fifth of the time: docs/benchmarks.md). Summed as the listener call sums
them, the result is the same; when a sum would make a counter go back, or an amphora's call
fails, the listeners are asked instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

from exporter.logs import cloud_logger
from exporter.model.capabilities import Capabilities
from exporter.model.parts import Detail
from exporter.model.plan import Parts, Rules, Work, reads_tree, stats_amphorae
from exporter.model.snapshot import Amphora, Member, Stats
from exporter.octavia import failures, parse, source
from exporter.octavia.client import OctaviaClient
from exporter.octavia.errors import ApiError
from exporter.telemetry import Telemetry

T = TypeVar("T")
# One call of a load balancer's read, made when its turn comes.
Call = Callable[[], Awaitable[Any]]


def as_api_error(exc: Exception, endpoint: str) -> ApiError:
    return exc if isinstance(exc, ApiError) else ApiError(endpoint, "malformed", str(exc))


# Octavia's active connections count only on an ALLOCATED amphora (a standby's or a failed one's
# would be wrong); the other counters are summed over every row (octavia/common/stats.py).
ALLOCATED = "ALLOCATED"


def listener_sums(listener_ids: Iterable[str], amphorae: Iterable[Amphora],
                  rows: Mapping[str, Mapping[tuple[str, str], Stats]]) -> dict[str, Stats]:
    """Each listener's statistics from its amphorae's rows, as GET /listeners/{id}/stats sums
    them; a listener without rows has zeros, as there."""
    allocated = {a.id for a in amphorae if a.status == ALLOCATED}
    sums = {lid: Stats() for lid in listener_ids}
    for amp_id, amp_rows in rows.items():
        for (_, listener_id), row in amp_rows.items():
            if listener_id in sums:
                counted = row if amp_id in allocated else replace(row, active_connections=0)
                sums[listener_id] = sums[listener_id] + counted
    return sums


def went_back(new: Mapping[str, Stats], known: Mapping[str, Stats]) -> bool:
    """Whether any counter is lower than the last one exported: rows the amphorae no longer
    show (purged with their amphora) that the listener call still sums."""
    for listener_id, stats in new.items():
        old = known.get(listener_id)
        # Every counter but active_connections (a gauge), spelled out rather than looked up by
        # name: this runs for every load balancer of every pass.
        if old is not None and (stats.bytes_in < old.bytes_in or stats.bytes_out < old.bytes_out
                                or stats.total_connections < old.total_connections
                                or stats.request_errors < old.request_errors):
            return True
    return False


class Gone(Exception):
    """The load balancer answered 404: deleted since it was listed."""


class Fetcher:
    def __init__(self, client: OctaviaClient, telemetry: Telemetry, rules: Rules,
                 capabilities: Capabilities, page_size: int | None = None) -> None:
        self.cloud = client.cloud
        self._log = cloud_logger("exporter.fetch", self.cloud)
        self.client = client
        self._client = client
        self._telemetry = telemetry.for_cloud(self.cloud)
        self._rules = rules
        self._page_size = page_size
        # The cloud's one record, shared with the list reader: amphorae switched off there (a
        # 403 on their list) switch this path off too.
        self._capabilities = capabilities

    def failed(self, error: ApiError) -> None:
        failures.report(self._telemetry, error)

    async def status_tree(self, parts: Parts,
                          pools: frozenset[str] | None = None) -> dict[str, Member]:
        """The members the status tree shows (of `pools` only, when given)."""
        lb = parts.loadbalancer
        endpoint, path = "loadbalancers/{id}/status", f"v2/lbaas/loadbalancers/{lb.id}/status"
        body = await self._lb_call(endpoint, path)
        return await source.parsed(self._client, endpoint, path, body,
                                   lambda raw: parse.status_tree_members(raw, lb, pools))

    async def _lb_call(self, endpoint: str, path: str) -> Any:
        try:
            return await self._client.get(endpoint, path)
        except ApiError as exc:
            if exc.status == 404:
                raise Gone from exc  # deleted since the lists: not an error
            raise

    async def pool_members(self, parts: Parts, pool_id: str) -> dict[str, Member]:
        pool = next(p for p in parts.pools if p.id == pool_id)
        raw = await self._client.list_all(
            "pools/{id}/members", f"v2/lbaas/pools/{pool.id}/members", "members",
            page_size=self._page_size)
        return parse.pool_members(raw, pool)

    async def listener_stats(self, listener_id: str) -> Stats:
        endpoint, path = "listeners/{id}/stats", f"v2/lbaas/listeners/{listener_id}/stats"
        return await source.get_one(self._client, endpoint, path, parse.stats)

    async def loadbalancer_stats(self, lb_id: str) -> Stats:
        endpoint, path = "loadbalancers/{id}/stats", f"v2/lbaas/loadbalancers/{lb_id}/stats"
        return await source.parsed(self._client, endpoint, path,
                                   await self._lb_call(endpoint, path), parse.stats)

    async def amphora_stats(self, amphora_id: str) -> dict[tuple[str, str], Stats]:
        endpoint, path = "amphorae/{id}/stats", f"v2/octavia/amphorae/{amphora_id}/stats"
        try:
            body = await self._client.get(endpoint, path)
        except ApiError as exc:
            if exc.status == 404:
                # Octavia answers 404 "Amphora stats for <id> not found." for an amphora with
                # no statistics rows (a spare, or one whose load balancer has no listener):
                # nothing to export, and nothing went wrong.
                return {}
            if exc.status == 403 and self._capabilities.stats_via_amphorae:
                # Listing amphorae is allowed but not their stats: ask the listeners from now on.
                self._capabilities.disable_stats_via_amphorae()
                self._log.warning("stats_via_amphorae_forbidden", url=exc.url)
            raise
        rows = await source.parsed(self._client, endpoint, path, body, parse.amphora_stats)
        return {(amphora_id, lid): row for lid, row in rows.items()}

    async def _try(self, endpoint: str, call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """`call(*args)`'s result, or None after counting and logging its failure."""
        try:
            return await call(*args)
        except (ApiError, parse.ParseError) as exc:
            self.failed(as_api_error(exc, endpoint))
            return None

    def _stats_calls(self, lb_id: str, listener_ids: list[str]) -> list[Call]:
        if self._rules.listener_stats:
            return [partial(self._try, "listeners/{id}/stats", self.listener_stats, lid)
                    for lid in listener_ids]
        return [partial(self._try, "loadbalancers/{id}/stats", self.loadbalancer_stats, lb_id)]

    async def read(self, parts: Parts, work: Work, now: Callable[[], float],
                   known: Mapping[str, Stats] | None = None) -> Detail:
        """Every call `work` asks for, one after the other (in_turn). `known`: the listener
        statistics exported now, which a sum from the amphorae must not undercut."""
        lb_id = parts.loadbalancer.id
        # Stamped when the reading starts: the data is at least as new as that.
        started = now()
        tree_pools = frozenset(p.id for p in parts.pools if reads_tree(p, self._rules))
        listener_ids = [x.id for x in parts.listeners]
        via = (stats_amphorae(parts, self._rules)
               if work.stats and self._capabilities.stats_via_amphorae else ())
        amp_ids = tuple(dict.fromkeys(work.amphorae + via))
        calls: list[Call] = []
        if work.tree:
            calls.append(partial(self._try, "loadbalancers/{id}/status", self.status_tree, parts,
                                 tree_pools))
        calls += [partial(self._try, "pools/{id}/members", self.pool_members, parts, pool_id)
                  for pool_id in work.member_pools]
        stats_calls = (self._stats_calls(lb_id, listener_ids)
                       if work.stats and not via else [])
        calls += stats_calls
        calls += [partial(self._try, "amphorae/{id}/stats", self.amphora_stats, a)
                  for a in amp_ids]
        try:
            results = iter(await in_turn(calls))
        except Gone:
            return Detail(lb_id, started, gone=True)
        tree = next(results) if work.tree else None
        listed = [next(results) for _ in work.member_pools]
        stats = [next(results) for _ in stats_calls]
        amps = list(results)
        rows_of: dict[str, Any] = dict(zip(amp_ids, amps, strict=True))
        if via:
            sums = (None if any(rows_of[a] is None for a in via) else
                    listener_sums(listener_ids, parts.amphorae, {a: rows_of[a] for a in via}))
            if sums is not None and not went_back(sums, known or {}):
                stats = [sums[lid] for lid in listener_ids]
            else:
                self._log.debug("stats_via_amphorae_fell_back", loadbalancer_id=lb_id,
                                reason="failed" if sums is None else "counter_went_back")
                stats = await in_turn(self._stats_calls(lb_id, listener_ids))
        failed: set[str] = set()
        member_pools: set[str] = set()
        members: dict[str, Member] = {}
        if work.tree:
            if tree is None:
                failed.add("members")
            else:
                member_pools |= tree_pools
                members.update(tree)
        for pool_id, found in zip(work.member_pools, listed, strict=True):
            if found is None:
                failed.add("members")
            else:
                member_pools.add(pool_id)
                members.update(found)
        lst_stats: dict[str, Stats] | None = None
        lb_stats: Stats | None = None
        if work.stats:
            if any(s is None for s in stats):
                failed.add("stats")
            elif self._rules.listener_stats:
                lst_stats = dict(zip(listener_ids, stats, strict=True))
                lb_stats = sum(stats, Stats())
            else:
                lst_stats = {}
                lb_stats = stats[0]
        amphora_stats: dict[str, dict[tuple[str, str], Stats]] = {}
        for amp_id in work.amphorae:
            rows = rows_of[amp_id]
            if rows is None:
                failed.add("amphorae")
            else:
                amphora_stats[amp_id] = rows
        asked = {"members"} if work.tree or work.member_pools else set()
        asked |= {"stats"} if work.stats else set()
        asked |= {"amphorae"} if work.amphorae else set()
        return Detail(lb_id, started, frozenset(member_pools), members, lst_stats, lb_stats,
                      amphora_stats, frozenset(asked - failed))


async def in_turn(calls: Iterable[Callable[[], Awaitable[T]]]) -> list[T]:
    """Every call's result, each made in the caller's task when the one before it is done.
    A load balancer's calls need not overlap: there are as many tier-2 workers as --concurrency
    allows requests in flight, so the workers alone keep the limiter's ceiling busy, and calls
    made side by side only queued at the limiter, each in a task of its own (the asyncio work
    that a py-spy profile of a pass at 10,000 load balancers found). The calls
    are made, not just awaited, here: one that raises, or a cancelled read, leaves none of the
    later ones created and never awaited."""
    return [await call() for call in calls]
