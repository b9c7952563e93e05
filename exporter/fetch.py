"""Per-load-balancer readers: status tree, member lists, stats, amphora stats.

Used by the tier-2 stream and by the notification refresh alike, so both read a load balancer
the same way. A failed call is counted and logged here and leaves that part out of the
`Detail`, so the snapshot keeps the part's last known values.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

from exporter import failures, parse
from exporter.client import ApiError, OctaviaClient
from exporter.plan import Parts, Rules, Work, reads_tree
from exporter.snapshot import Member, Stats
from exporter.telemetry import Telemetry

log = structlog.get_logger("exporter.fetch")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Detail:
    """What one read of one load balancer's detail found; a part that failed is absent."""

    loadbalancer_id: str
    read_at: float
    # Pools whose members were read, and the members found in them.
    member_pools: frozenset[str] = frozenset()
    members: dict[str, Member] = field(default_factory=dict)
    # All of the load balancer's stats, or None when not read or any call failed (a partial
    # sum would look like a counter reset).
    listener_stats: dict[str, Stats] | None = None
    loadbalancer_stats: Stats | None = None
    amphora_stats: dict[str, dict[tuple[str, str], Stats]] = field(default_factory=dict)
    # The parts ("members", "stats", "amphorae") every call of which succeeded.
    complete: frozenset[str] = frozenset()


def as_api_error(exc: Exception, endpoint: str) -> ApiError:
    return exc if isinstance(exc, ApiError) else ApiError(endpoint, "malformed", str(exc))


class Fetcher:
    def __init__(self, client: OctaviaClient, telemetry: Telemetry, rules: Rules,
                 page_size: int | None = None) -> None:
        self.cloud = client.cloud
        self.client = client
        self._client = client
        self._telemetry = telemetry
        self._rules = rules
        self._page_size = page_size

    def failed(self, error: ApiError) -> None:
        failures.report(self._telemetry, self.cloud, error)

    async def _parsed(self, endpoint: str, path: str, body: Any, read: Callable[[Any], T]) -> T:
        """`read(body)`; JSON of the wrong shape fails like any other call, with its URL."""
        try:
            return read(body)
        except parse.ParseError as exc:
            raise ApiError(endpoint, "malformed", str(exc),
                           url=await self._client.url(endpoint, path)) from exc

    async def status_tree(self, parts: Parts) -> dict[str, Member]:
        lb = parts.loadbalancer
        endpoint, path = "loadbalancers/{id}/status", f"v2/lbaas/loadbalancers/{lb.id}/status"
        body = await self._client.get(endpoint, path)
        return await self._parsed(endpoint, path, body,
                                  lambda raw: parse.status_tree_members(raw, lb))

    async def pool_members(self, parts: Parts, pool_id: str) -> dict[str, Member]:
        pool = next(p for p in parts.pools if p.id == pool_id)
        raw = await self._client.list_all(
            "pools/{id}/members", f"v2/lbaas/pools/{pool.id}/members", "members",
            page_size=self._page_size)
        return parse.pool_members(raw, pool)

    async def listener_stats(self, listener_id: str) -> Stats:
        endpoint, path = "listeners/{id}/stats", f"v2/lbaas/listeners/{listener_id}/stats"
        return await self._parsed(endpoint, path, await self._client.get(endpoint, path),
                                  parse.stats)

    async def loadbalancer_stats(self, lb_id: str) -> Stats:
        endpoint, path = "loadbalancers/{id}/stats", f"v2/lbaas/loadbalancers/{lb_id}/stats"
        return await self._parsed(endpoint, path, await self._client.get(endpoint, path),
                                  parse.stats)

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
            raise
        rows = await self._parsed(endpoint, path, body, parse.amphora_stats)
        return {(amphora_id, lid): row for lid, row in rows.items()}

    async def _try(self, endpoint: str, call: Awaitable[Any]) -> Any:
        """The call's result, or None after counting and logging its failure."""
        try:
            return await call
        except (ApiError, parse.ParseError) as exc:
            self.failed(as_api_error(exc, endpoint))
            return None

    async def read(self, parts: Parts, work: Work, now: Callable[[], float]) -> Detail:
        """Every call `work` asks for, concurrently; the limiter decides how many really run."""
        lb_id = parts.loadbalancer.id
        # Stamped when the reading starts: the data is at least as new as that.
        started = now()
        tree_pools = frozenset(p.id for p in parts.pools if reads_tree(p, self._rules))
        listener_ids = [x.id for x in parts.listeners]
        listener_stats = self._rules.listener_stats
        tree_call = (self._try("loadbalancers/{id}/status", self.status_tree(parts))
                     if work.tree else _nothing())
        lists = [self._try("pools/{id}/members",
                           self.pool_members(parts, pool_id))
                 for pool_id in work.member_pools]
        if not work.stats:
            stats_calls: list[Awaitable[Any]] = []
        elif listener_stats:
            stats_calls = [self._try("listeners/{id}/stats",
                                     self.listener_stats(lid))
                           for lid in listener_ids]
        else:
            stats_calls = [self._try("loadbalancers/{id}/stats",
                                     self.loadbalancer_stats(lb_id))]
        amp_calls = [self._try("amphorae/{id}/stats", self.amphora_stats(a))
                     for a in work.amphorae]
        tree, listed, stats, amps = await asyncio.gather(
            tree_call, asyncio.gather(*lists), asyncio.gather(*stats_calls),
            asyncio.gather(*amp_calls))
        failed: set[str] = set()
        member_pools: set[str] = set()
        members: dict[str, Member] = {}
        if work.tree:
            if tree is None:
                failed.add("members")
            else:
                member_pools |= tree_pools
                members.update((k, m) for k, m in tree.items() if m.pool_id in tree_pools)
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
            elif listener_stats:
                lst_stats = dict(zip(listener_ids, stats, strict=True))
                lb_stats = sum(stats, Stats())
            else:
                lst_stats = {}
                lb_stats = stats[0]
        amphora_stats: dict[str, dict[tuple[str, str], Stats]] = {}
        for amp_id, rows in zip(work.amphorae, amps, strict=True):
            if rows is None:
                failed.add("amphorae")
            else:
                amphora_stats[amp_id] = rows
        asked = {"members"} if work.tree or work.member_pools else set()
        asked |= {"stats"} if work.stats else set()
        asked |= {"amphorae"} if work.amphorae else set()
        return Detail(lb_id, started, frozenset(member_pools), members, lst_stats, lb_stats,
                      amphora_stats, frozenset(asked - failed))


async def _nothing() -> None:
    return None
