"""One poll cycle: from API calls to one consistent FleetSnapshot.

Call budget per cycle (see docs/benchmarks.md for the measured figures):
  bulk lists   one paginated list each of load balancers, listeners, pools, health monitors
               (and amphorae for admins), with fields= so pages stay small;
  members      one status tree per load balancer that has a member in a pool attached to a
               listener, plus one member list per pool that has members but no listener (those
               pools are absent from the status tree);
  traffic      one stats call per listener. Octavia computes load-balancer stats as the sum of
               its listeners' (octavia/common/stats.py), so load-balancer stats cost no call
               (with --no-listener-stats: one load-balancer stats call instead, for load
               balancers that have a listener);
  amphorae     one stats call per amphora, only with --amphora-stats.
A failed per-object call keeps that object's last known values and is counted; a failed bulk
list fails the cycle, and the previous snapshot stays in place.

Cadence (--healthy-tree-interval, --stats-interval) trades freshness for calls: a status tree is
refetched every cycle for a load balancer that is not ACTIVE/ONLINE, whose previous tree had a
member that was not ONLINE, or whose pools' membership or updated_at changed; a healthy one only
every --healthy-tree-interval. Octavia's health manager rolls member failures up into the load
balancer's operating status, which the bulk list shows every cycle, so a member going down is
still seen at the next cycle. Stats are refetched every --stats-interval.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import structlog

from exporter import parse
from exporter.client import ApiError, OctaviaClient
from exporter.snapshot import (
    Amphora,
    FleetSnapshot,
    FloatingIP,
    HealthMonitor,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    Stats,
)
from exporter.telemetry import Telemetry

log = structlog.get_logger("exporter.poller")

LB_FIELDS = (
    "id", "name", "project_id", "provisioning_status", "operating_status", "admin_state_up",
    "vip_address", "vip_port_id", "vip_network_id", "vip_subnet_id", "provider", "flavor_id",
    "availability_zone", "created_at", "updated_at", "listeners", "pools",
)
LISTENER_FIELDS = (
    "id", "name", "project_id", "loadbalancers", "provisioning_status", "operating_status",
    "admin_state_up", "protocol", "protocol_port", "default_pool_id", "connection_limit",
)
POOL_FIELDS = (
    "id", "name", "project_id", "loadbalancers", "listeners", "provisioning_status",
    "operating_status", "admin_state_up", "protocol", "lb_algorithm", "healthmonitor_id",
    "members",
)
HM_FIELDS = (
    "id", "name", "project_id", "pools", "provisioning_status", "operating_status",
    "admin_state_up", "type",
)
FLOATING_IP_FIELDS = (
    "id", "floating_ip_address", "port_id", "status", "floating_network_id", "project_id",
)
AMPHORA_FIELDS = (
    "id", "loadbalancer_id", "compute_id", "status", "role", "lb_network_ip", "vrrp_ip",
    "ha_ip", "image_id", "compute_flavor", "cached_zone", "cert_expiration",
)


class CycleFailed(Exception):
    """The bulk lists could not be read, so no consistent snapshot can be built."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(str(error))
        self.error = error


HEALTHY_MEMBER = frozenset({"ONLINE", "NO_MONITOR"})


def in_shard(loadbalancer_id: str, shard: tuple[int, int]) -> bool:
    """Stable across processes and restarts (unlike hash()), so N exporters split one cloud."""
    index, count = shard
    return count <= 1 or zlib.crc32(loadbalancer_id.encode()) % count == index - 1


class CloudPoller:
    def __init__(
        self,
        client: OctaviaClient,
        telemetry: Telemetry,
        *,
        concurrency: int = 16,
        amphorae: bool = True,
        amphora_stats: bool = False,
        page_size: int | None = None,
        listener_stats: bool = True,
        healthy_tree_interval: float = 0.0,
        stats_interval: float = 0.0,
        shard: tuple[int, int] = (1, 1),
        floating_ips: bool = True,
        member_details: bool = False,
    ) -> None:
        self.cloud = client.cloud
        self.client = client
        self.shard = shard
        self._client = client
        self._telemetry = telemetry
        self._concurrency = concurrency
        self._page_size = page_size
        self._listener_stats = listener_stats
        self._healthy_tree_interval = healthy_tree_interval
        self._stats_interval = stats_interval
        self._shard = shard
        self.amphorae_enabled = amphorae
        self.amphora_stats_enabled = amphora_stats and amphorae
        self.floating_ips_enabled = floating_ips
        self._member_details = member_details
        self.last_bulk_seconds = 0.0
        # When each load balancer's tree / stats were last fetched (monotonic). Pruned to the
        # current load balancers every cycle, so deleted objects leave nothing behind.
        self._tree_fetched: dict[str, float] = {}
        self._stats_fetched: dict[str, float] = {}

    @property
    def listener_stats_enabled(self) -> bool:
        return self._listener_stats

    def reads_tree(self, pool: Pool) -> bool:
        """Whether this pool's members come from its load balancer's status tree. With
        --member-details every pool's member list is read instead (it has weight, admin state
        and backup, which the tree lacks); pools no listener uses are never in the tree."""
        return bool(pool.listener_ids and pool.member_ids) and not self._member_details

    def reads_member_list(self, pool: Pool) -> bool:
        return bool(pool.member_ids) and not self.reads_tree(pool)

    def _failed(self, error: ApiError) -> None:
        self._telemetry.poll_error(self.cloud, error.endpoint, error.reason, error.url,
                                   str(error))
        log.warning("api_call_failed", cloud=self.cloud, endpoint=error.endpoint,
                    reason=error.reason, url=error.url, detail=str(error))

    def _malformed(self, endpoint: str, problem: str) -> None:
        self._telemetry.poll_error(self.cloud, endpoint, "malformed", detail=problem)
        log.warning("malformed_object", cloud=self.cloud, endpoint=endpoint, problem=problem)

    def _collector(self, endpoint: str, build: Callable[[Any], Any], into: dict[str, Any],
                   before: Mapping[str, Any]) -> Callable[[list[Any]], None]:
        """Parse a page as it arrives into `into`, so raw pages are freed page by page."""
        def on_page(page: list[Any]) -> None:
            for item in page:
                try:
                    obj = build(item)
                except parse.ParseError as exc:
                    self._malformed(endpoint, str(exc))
                    continue
                into[obj.id] = _same(before, obj.id, obj)
        return on_page

    async def _list(self, endpoint: str, path: str, key: str, fields: tuple[str, ...],
                    build: Callable[[Any], Any], into: dict[str, Any],
                    before: Mapping[str, Any]) -> None:
        await self._client.list_all(endpoint, path, key, fields, self._page_size,
                                    on_page=self._collector(endpoint, build, into, before))

    async def _floating_ip_list(self) -> list[Any] | ApiError | None:
        """Neutron's floating IPs: beside the bulk lists, and never able to fail the cycle."""
        if not self.floating_ips_enabled:
            return None
        try:
            return await self._client.list_all(
                "floatingips", "v2.0/floatingips", "floatingips", FLOATING_IP_FIELDS,
                self._page_size, service="network")
        except ApiError as exc:
            return exc

    def _floating_ips(self, raw: list[Any] | ApiError | None,
                      loadbalancers: Mapping[str, LoadBalancer],
                      previous: FleetSnapshot | None) -> dict[str, FloatingIP]:
        if raw is None:
            return {}
        if isinstance(raw, ApiError):
            if raw.reason == "no_endpoint" or raw.status in (403, 404):
                self.floating_ips_enabled = False
                log.warning(
                    "floating_ips_disabled", cloud=self.cloud,
                    reason="no network (Neutron) endpoint in the service catalog"
                    if raw.reason == "no_endpoint" else
                    f"Neutron answered {raw.status} to the floating IP list",
                )
                return {}
            self._failed(raw)
            if previous is None:
                return {}
            return {k: f for k, f in previous.floating_ips.items()
                    if f.loadbalancer_id in loadbalancers}
        by_port = {lb.vip_port_id: lb.id for lb in loadbalancers.values() if lb.vip_port_id}
        found: dict[str, FloatingIP] = {}
        before = previous.floating_ips if previous else {}
        for item in raw:
            try:
                fip = parse.floating_ip(item, by_port)
            except parse.ParseError as exc:
                self._malformed("floatingips", str(exc))
                continue
            if fip is not None:
                found[fip.id] = _same(before, fip.id, fip)
        return found

    async def _amphora_list(self) -> list[Any] | ApiError | None:
        """Fetched beside the other bulk lists; its failure must not fail the cycle."""
        if not self.amphorae_enabled:
            return None
        try:
            return await self._client.list_all("amphorae", "v2/octavia/amphorae", "amphorae",
                                               AMPHORA_FIELDS, self._page_size)
        except ApiError as exc:
            return exc

    async def poll(self, previous: FleetSnapshot | None) -> FleetSnapshot:
        """One cycle. Per-object calls start as soon as the lists they depend on are in (stats
        after the listener list, status trees after the load-balancer and pool lists), so the
        workers are not idle while the longer lists are still paging."""
        started = time.time()
        now = time.monotonic()
        old = _Previous(previous)
        members: dict[str, Member] = {}
        listener_stats: dict[str, Stats] = {}
        lb_stats: dict[str, Stats] = {}
        amphora_stats: dict[tuple[str, str], Stats] = {}
        raw_lbs: dict[str, LoadBalancer] = {}
        raw_listeners: dict[str, Listener] = {}
        raw_pools: dict[str, Pool] = {}
        hms_raw: list[Any] = []
        queue: asyncio.Queue[Callable[[], Awaitable[None]] | None] = asyncio.Queue()
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self._concurrency)]

        async def listeners_then_stats() -> None:
            await self._list("listeners", "v2/lbaas/listeners", "listeners", LISTENER_FIELDS,
                             parse.listener, raw_listeners, old.listeners)
            mine = [x for x in raw_listeners.values() if in_shard(x.loadbalancer_id, self._shard)]
            for job in self._stats_jobs(mine, listener_stats, lb_stats, old, now):
                queue.put_nowait(job)

        async def loadbalancers_and_pools_then_members() -> None:
            await asyncio.gather(
                self._list("loadbalancers", "v2/lbaas/loadbalancers", "loadbalancers",
                           LB_FIELDS, parse.loadbalancer, raw_lbs, old.loadbalancers),
                self._list("pools", "v2/lbaas/pools", "pools", POOL_FIELDS, parse.pool,
                           raw_pools, old.pools))
            lbs = {k: v for k, v in raw_lbs.items() if in_shard(k, self._shard)}
            pools = [p for p in raw_pools.values() if p.loadbalancer_id in lbs]
            for job in self._member_jobs(lbs, pools, members, old, now):
                queue.put_nowait(job)

        try:
            try:
                _, _, _, amphorae_raw, floating_raw = await asyncio.gather(
                    listeners_then_stats(),
                    loadbalancers_and_pools_then_members(),
                    # Health monitors name their pool, which may arrive later: parsed at the end.
                    self._client.list_all("healthmonitors", "v2/lbaas/healthmonitors",
                                          "healthmonitors", HM_FIELDS, self._page_size,
                                          on_page=hms_raw.extend),
                    self._amphora_list(),
                    self._floating_ip_list(),
                )
            except ApiError as exc:
                self._failed(exc)
                raise CycleFailed(exc) from exc
            self.last_bulk_seconds = time.monotonic() - now

            loadbalancers = {k: v for k, v in raw_lbs.items() if in_shard(k, self._shard)}
            listeners = {k: v for k, v in raw_listeners.items()
                         if v.loadbalancer_id in loadbalancers}
            pools = {k: v for k, v in raw_pools.items() if v.loadbalancer_id in loadbalancers}
            healthmonitors: dict[str, HealthMonitor] = {}
            self._collector("healthmonitors", lambda raw: parse.healthmonitor(raw, pools),
                            healthmonitors, old.healthmonitors)(hms_raw)
            healthmonitors = {k: v for k, v in healthmonitors.items() if v.pool_id in pools}
            amphorae = self._amphorae(amphorae_raw, loadbalancers, previous)
            floating_ips = self._floating_ips(floating_raw, loadbalancers, previous)
            if self.amphora_stats_enabled:
                for amp in amphorae.values():
                    if amp.status != "PENDING_DELETE":
                        queue.put_nowait(self._amphora_stats_job(amp, amphora_stats, old))
            for _ in workers:
                queue.put_nowait(None)
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()
        self._prune(loadbalancers)

        # Calls made for objects that vanished between the lists are dropped here.
        listener_stats = {k: v for k, v in listener_stats.items() if k in listeners}
        members = {k: v for k, v in members.items() if v.pool_id in pools}
        listeners_of: dict[str, list[Listener]] = defaultdict(list)
        for lst in listeners.values():
            listeners_of[lst.loadbalancer_id].append(lst)
        if self._listener_stats:
            lb_stats = self._sum_listener_stats(loadbalancers, listeners_of, listener_stats, old)
        else:
            lb_stats = {k: v for k, v in lb_stats.items() if k in loadbalancers}
            # No listener, no traffic: zero is known without asking.
            lb_stats.update((lb_id, Stats()) for lb_id in loadbalancers
                            if lb_id not in listeners_of)
        return FleetSnapshot(
            cloud=self.cloud,
            taken_at=started,
            loadbalancers=loadbalancers,
            listeners=listeners,
            pools=pools,
            members=members,
            healthmonitors=healthmonitors,
            amphorae=amphorae,
            loadbalancer_stats=lb_stats,
            listener_stats=listener_stats,
            amphora_stats=amphora_stats,
            amphorae_enabled=self.amphorae_enabled,
            amphora_stats_enabled=self.amphora_stats_enabled,
            floating_ips=floating_ips,
            floating_ips_enabled=self.floating_ips_enabled,
        )

    @staticmethod
    async def _worker(queue: asyncio.Queue[Callable[[], Awaitable[None]] | None]) -> None:
        while (job := await queue.get()) is not None:
            await job()

    def _member_jobs(self, loadbalancers: Mapping[str, LoadBalancer], pools: list[Pool],
                     members: dict[str, Member], old: _Previous,
                     now: float) -> list[Callable[[], Awaitable[None]]]:
        """Status trees (and member lists of pools no listener uses) that are due; members of
        the others are carried over from the previous snapshot."""
        jobs: list[Callable[[], Awaitable[None]]] = []

        def keep_members(kept: Iterable[Member]) -> None:
            members.update((m.id, m) for m in kept)

        tree_pools: dict[str, list[Pool]] = defaultdict(list)
        for pool in pools:
            if self.reads_tree(pool):
                tree_pools[pool.loadbalancer_id].append(pool)
        for lb_id, lb_pools in sorted(tree_pools.items()):
            lb = loadbalancers[lb_id]
            shown = {p.id for p in lb_pools}
            if not self._tree_due(lb, lb_pools, old, now):
                keep_members(m for m in old.members_of_lb(lb_id) if m.pool_id in shown)
                continue

            async def fetch_tree(lb: LoadBalancer = lb, shown: set[str] = shown) -> None:
                try:
                    body = await self._client.get(
                        "loadbalancers/{id}/status", f"v2/lbaas/loadbalancers/{lb.id}/status")
                    fresh = parse.status_tree_members(body, lb)
                    members.update((k, _same(old.members, k, m)) for k, m in fresh.items())
                    self._tree_fetched[lb.id] = now
                except (ApiError, parse.ParseError) as exc:
                    self._failed(_as_api_error(exc, "loadbalancers/{id}/status"))
                    keep_members(m for m in old.members_of_lb(lb.id) if m.pool_id in shown)

            jobs.append(fetch_tree)

        for pool in pools:
            if not self.reads_member_list(pool):
                continue

            async def fetch_pool_members(pool: Pool = pool) -> None:
                try:
                    raw = await self._client.list_all(
                        "pools/{id}/members", f"v2/lbaas/pools/{pool.id}/members", "members",
                        page_size=self._page_size)
                    fresh = parse.pool_members(raw, pool)
                    members.update((k, _same(old.members, k, m)) for k, m in fresh.items())
                except ApiError as exc:
                    self._failed(exc)
                    keep_members(old.members_of_pool(pool.id))

            jobs.append(fetch_pool_members)
        return jobs

    def _stats_jobs(self, listeners: list[Listener], listener_stats: dict[str, Stats],
                    lb_stats: dict[str, Stats], old: _Previous,
                    now: float) -> list[Callable[[], Awaitable[None]]]:
        """Stats calls that are due; the stats of the others are carried over."""
        jobs: list[Callable[[], Awaitable[None]]] = []
        listeners_of: dict[str, list[Listener]] = defaultdict(list)
        for lst in listeners:
            listeners_of[lst.loadbalancer_id].append(lst)
        for lb_id, lb_listeners in listeners_of.items():
            if not self._stats_due(lb_id, now):
                for lst in lb_listeners:
                    if lst.id in old.listener_stats:
                        listener_stats[lst.id] = old.listener_stats[lst.id]
                if lb_id in old.lb_stats:
                    lb_stats[lb_id] = old.lb_stats[lb_id]
                continue
            self._stats_fetched[lb_id] = now
            if self._listener_stats:
                jobs.extend(self._listener_stats_job(lst, listener_stats, old)
                            for lst in lb_listeners)
            else:
                jobs.append(self._lb_stats_job(lb_id, lb_stats, old))
        return jobs

    def _tree_due(self, lb: LoadBalancer, lb_pools: list[Pool], old: _Previous,
                  now: float) -> bool:
        fetched = self._tree_fetched.get(lb.id)
        if fetched is None or self._healthy_tree_interval <= 0:
            return True
        if now - fetched >= self._healthy_tree_interval:
            return True
        if lb.provisioning_status != "ACTIVE" or lb.operating_status != "ONLINE":
            return True
        before = old.loadbalancers.get(lb.id)
        if before is None or before.updated_at != lb.updated_at:
            return True
        for pool in lb_pools:
            prior = old.pools.get(pool.id)
            if prior is None or set(prior.member_ids) != set(pool.member_ids):
                return True
        return any(m.operating_status not in HEALTHY_MEMBER for m in old.members_of_lb(lb.id))

    def _stats_due(self, lb_id: str, now: float) -> bool:
        fetched = self._stats_fetched.get(lb_id)
        return fetched is None or self._stats_interval <= 0 or (
            now - fetched >= self._stats_interval)

    def _prune(self, loadbalancers: Mapping[str, LoadBalancer]) -> None:
        for table in (self._tree_fetched, self._stats_fetched):
            for lb_id in [k for k in table if k not in loadbalancers]:
                del table[lb_id]

    def _listener_stats_job(self, lst: Listener, out: dict[str, Stats],
                            old: _Previous) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            try:
                body = await self._client.get(
                    "listeners/{id}/stats", f"v2/lbaas/listeners/{lst.id}/stats")
                out[lst.id] = _same(old.listener_stats, lst.id, parse.stats(body))
            except (ApiError, parse.ParseError) as exc:
                self._failed(_as_api_error(exc, "listeners/{id}/stats"))
                self._stats_fetched.pop(lst.loadbalancer_id, None)
                if lst.id in old.listener_stats:
                    out[lst.id] = old.listener_stats[lst.id]
        return job

    def _lb_stats_job(self, lb_id: str, out: dict[str, Stats],
                      old: _Previous) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            try:
                body = await self._client.get(
                    "loadbalancers/{id}/stats", f"v2/lbaas/loadbalancers/{lb_id}/stats")
                out[lb_id] = parse.stats(body)
            except (ApiError, parse.ParseError) as exc:
                self._failed(_as_api_error(exc, "loadbalancers/{id}/stats"))
                self._stats_fetched.pop(lb_id, None)
                if lb_id in old.lb_stats:
                    out[lb_id] = old.lb_stats[lb_id]
        return job

    def _amphora_stats_job(self, amp: Amphora, out: dict[tuple[str, str], Stats],
                           old: _Previous) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            try:
                body = await self._client.get(
                    "amphorae/{id}/stats", f"v2/octavia/amphorae/{amp.id}/stats")
                for listener_id, row in parse.amphora_stats(body).items():
                    out[(amp.id, listener_id)] = row
            except ApiError as exc:
                if exc.status == 404:
                    # Octavia answers 404 "Amphora stats for <id> not found." for an amphora
                    # with no statistics rows (a spare, or one whose load balancer has no
                    # listener): nothing to export, and nothing went wrong.
                    return
                self._failed(exc)
                out.update(old.amphora_stats_of(amp.id))
            except parse.ParseError as exc:
                self._failed(_as_api_error(exc, "amphorae/{id}/stats"))
                out.update(old.amphora_stats_of(amp.id))
        return job

    @staticmethod
    def _sum_listener_stats(
        loadbalancers: Mapping[str, LoadBalancer],
        listeners_of: Mapping[str, list[Listener]],
        listener_stats: Mapping[str, Stats],
        old: _Previous,
    ) -> dict[str, Stats]:
        result: dict[str, Stats] = {}
        for lb_id in loadbalancers:
            lb_listeners = listeners_of.get(lb_id, [])
            if all(lst.id in listener_stats for lst in lb_listeners):
                result[lb_id] = sum((listener_stats[x.id] for x in lb_listeners), Stats())
            elif lb_id in old.lb_stats:
                # A partial sum would look like a counter reset; keep the last complete one.
                result[lb_id] = old.lb_stats[lb_id]
        return result

    def _amphorae(
        self, raw: list[Any] | ApiError | None, loadbalancers: Mapping[str, LoadBalancer],
        previous: FleetSnapshot | None,
    ) -> dict[str, Amphora]:
        if raw is None:
            return {}
        if isinstance(raw, ApiError):
            exc = raw
            if exc.status == 403:
                self.amphorae_enabled = False
                self.amphora_stats_enabled = False
                log.warning(
                    "amphorae_disabled", cloud=self.cloud,
                    reason="the API answered 403: listing amphorae needs the admin or "
                    "global observer role; amphora metrics are off until restart",
                )
                return {}
            self._failed(exc)
            return dict(previous.amphorae) if previous else {}
        amphorae: dict[str, Amphora] = {}
        self._collector("amphorae", lambda item: parse.amphora(item, loadbalancers),
                        amphorae, previous.amphorae if previous else {})(raw)
        # Octavia keeps DELETED amphorae in the list until housekeeping purges them (a week by
        # default); exporting them would grow the series count with every failover. Spares
        # (no load balancer) belong to no shard but the first.
        return {k: a for k, a in amphorae.items() if a.status != "DELETED" and (
            a.loadbalancer_id in loadbalancers
            or (not a.loadbalancer_id and self._shard[0] == 1))}


def _same(before: Mapping[str, Any], key: str, obj: Any) -> Any:
    """The previous snapshot's object when nothing changed, else the new one. Done as each
    object is parsed, so the two snapshots alive during a cycle cost little more than one and
    unchanged strings are never held twice."""
    old = before.get(key)
    return old if old is not None and old == obj else obj


def _as_api_error(exc: Exception, endpoint: str) -> ApiError:
    return exc if isinstance(exc, ApiError) else ApiError(endpoint, "malformed", str(exc))


class _Previous:
    """The previous snapshot, indexed lazily by parent for the fall-backs above."""

    def __init__(self, snapshot: FleetSnapshot | None) -> None:
        self._snapshot = snapshot
        self.loadbalancers: Mapping[str, LoadBalancer] = snapshot.loadbalancers if snapshot else {}
        self.listeners: Mapping[str, Listener] = snapshot.listeners if snapshot else {}
        self.pools: Mapping[str, Pool] = snapshot.pools if snapshot else {}
        self.members: Mapping[str, Member] = snapshot.members if snapshot else {}
        self.healthmonitors: Mapping[str, HealthMonitor] = (
            snapshot.healthmonitors if snapshot else {})
        self.listener_stats: Mapping[str, Stats] = snapshot.listener_stats if snapshot else {}
        self.lb_stats: Mapping[str, Stats] = snapshot.loadbalancer_stats if snapshot else {}
        self._by_lb: dict[str, list[Member]] | None = None
        self._by_pool: dict[str, list[Member]] | None = None
        self._amp_stats: dict[str, dict[tuple[str, str], Stats]] | None = None

    def members_of_lb(self, lb_id: str) -> list[Member]:
        if self._by_lb is None:
            self._by_lb = defaultdict(list)
            for m in self._snapshot.members.values() if self._snapshot else ():
                self._by_lb[m.loadbalancer_id].append(m)
        return self._by_lb.get(lb_id, [])

    def members_of_pool(self, pool_id: str) -> list[Member]:
        if self._by_pool is None:
            self._by_pool = defaultdict(list)
            for m in self._snapshot.members.values() if self._snapshot else ():
                self._by_pool[m.pool_id].append(m)
        return self._by_pool.get(pool_id, [])

    def amphora_stats_of(self, amphora_id: str) -> dict[tuple[str, str], Stats]:
        if self._amp_stats is None:
            self._amp_stats = defaultdict(dict)
            for key, row in (self._snapshot.amphora_stats.items() if self._snapshot else ()):
                self._amp_stats[key[0]][key] = row
        return self._amp_stats.get(amphora_id, {})
