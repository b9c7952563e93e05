"""One poll cycle: from API calls to one consistent FleetSnapshot.

Call budget per cycle (see docs/benchmarks.md for the measured figures):
  bulk lists   one paginated list each of load balancers, listeners, pools, health monitors
               (and amphorae for admins), with fields= so pages stay small;
  members      one status tree per load balancer that has a member in a pool attached to a
               listener, plus one member list per pool that has members but no listener (those
               pools are absent from the status tree);
  traffic      one stats call per listener. Octavia computes load-balancer stats as the sum of
               its listeners' (octavia/common/stats.py), so load-balancer stats cost no call;
  amphorae     one stats call per amphora, only with --amphora-stats.
A failed per-object call keeps that object's last known values and is counted; a failed bulk
list fails the cycle, and the previous snapshot stays in place.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import structlog

from exporter import parse
from exporter.client import ApiError, OctaviaClient
from exporter.snapshot import (
    Amphora,
    FleetSnapshot,
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
AMPHORA_FIELDS = (
    "id", "loadbalancer_id", "compute_id", "status", "role", "lb_network_ip", "vrrp_ip",
    "ha_ip", "image_id", "compute_flavor", "cached_zone", "cert_expiration",
)


class CycleFailed(Exception):
    """The bulk lists could not be read, so no consistent snapshot can be built."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(str(error))
        self.error = error


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
    ) -> None:
        self.cloud = client.cloud
        self._client = client
        self._telemetry = telemetry
        self._concurrency = concurrency
        self._page_size = page_size
        self.amphorae_enabled = amphorae
        self.amphora_stats_enabled = amphora_stats and amphorae

    def _failed(self, error: ApiError) -> None:
        self._telemetry.poll_errors.labels(self.cloud, error.endpoint, error.reason).inc()
        log.warning("api_call_failed", cloud=self.cloud, endpoint=error.endpoint,
                    reason=error.reason, detail=str(error))

    def _malformed(self, endpoint: str, problem: str) -> None:
        self._telemetry.poll_errors.labels(self.cloud, endpoint, "malformed").inc()
        log.warning("malformed_object", cloud=self.cloud, endpoint=endpoint, problem=problem)

    async def _list(self, endpoint: str, path: str, key: str, fields: tuple[str, ...]) -> list[Any]:
        return await self._client.list_all(endpoint, path, key, fields, self._page_size)

    def _parse_all(self, endpoint: str, raw: Iterable[Any], build: Callable[[Any], Any],
                   previous: Mapping[str, Any]) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for item in raw:
            try:
                obj = build(item)
            except parse.ParseError as exc:
                self._malformed(endpoint, str(exc))
                continue
            parsed[obj.id] = obj
        return parsed

    async def poll(self, previous: FleetSnapshot | None) -> FleetSnapshot:
        started = time.time()
        try:
            lbs_raw, listeners_raw, pools_raw, hms_raw = await asyncio.gather(
                self._list("loadbalancers", "v2/lbaas/loadbalancers", "loadbalancers", LB_FIELDS),
                self._list("listeners", "v2/lbaas/listeners", "listeners", LISTENER_FIELDS),
                self._list("pools", "v2/lbaas/pools", "pools", POOL_FIELDS),
                self._list("healthmonitors", "v2/lbaas/healthmonitors", "healthmonitors",
                           HM_FIELDS),
            )
        except ApiError as exc:
            self._failed(exc)
            raise CycleFailed(exc) from exc

        empty: dict[str, Any] = {}
        prev_lbs = previous.loadbalancers if previous else empty
        loadbalancers: dict[str, LoadBalancer] = self._parse_all(
            "loadbalancers", lbs_raw, parse.loadbalancer, prev_lbs)
        listeners: dict[str, Listener] = self._parse_all(
            "listeners", listeners_raw, parse.listener, empty)
        pools: dict[str, Pool] = self._parse_all("pools", pools_raw, parse.pool, empty)
        healthmonitors: dict[str, HealthMonitor] = self._parse_all(
            "healthmonitors", hms_raw, lambda raw: parse.healthmonitor(raw, pools), empty)

        amphorae = await self._amphorae(loadbalancers, previous)

        jobs: list[Callable[[], Awaitable[None]]] = []
        members: dict[str, Member] = {}
        listener_stats: dict[str, Stats] = {}
        amphora_stats: dict[tuple[str, str], Stats] = {}
        prev_members_by_lb: dict[str, list[Member]] | None = None
        prev_members_by_pool: dict[str, list[Member]] | None = None

        def previous_members(key: str, by: str) -> list[Member]:
            nonlocal prev_members_by_lb, prev_members_by_pool
            if previous is None:
                return []
            if by == "lb":
                if prev_members_by_lb is None:
                    prev_members_by_lb = defaultdict(list)
                    for m in previous.members.values():
                        prev_members_by_lb[m.loadbalancer_id].append(m)
                return prev_members_by_lb.get(key, [])
            if prev_members_by_pool is None:
                prev_members_by_pool = defaultdict(list)
                for m in previous.members.values():
                    prev_members_by_pool[m.pool_id].append(m)
            return prev_members_by_pool.get(key, [])

        tree_lbs = {p.loadbalancer_id for p in pools.values() if p.listener_ids and p.member_ids}
        for lb_id in sorted(tree_lbs):
            lb = loadbalancers.get(lb_id)
            if lb is None:
                continue

            async def fetch_tree(lb: LoadBalancer = lb) -> None:
                try:
                    body = await self._client.get(
                        "loadbalancers/{id}/status", f"v2/lbaas/loadbalancers/{lb.id}/status")
                    members.update(parse.status_tree_members(body, lb))
                except (ApiError, parse.ParseError) as exc:
                    error = exc if isinstance(exc, ApiError) else ApiError(
                        "loadbalancers/{id}/status", "malformed", str(exc))
                    self._failed(error)
                    members.update({m.id: m for m in previous_members(lb.id, "lb")})

            jobs.append(fetch_tree)

        for pool in pools.values():
            if pool.listener_ids or not pool.member_ids:
                continue

            async def fetch_pool_members(pool: Pool = pool) -> None:
                try:
                    raw = await self._client.list_all(
                        "pools/{id}/members", f"v2/lbaas/pools/{pool.id}/members", "members",
                        page_size=self._page_size)
                    members.update(parse.pool_members(raw, pool))
                except ApiError as exc:
                    self._failed(exc)
                    members.update({m.id: m for m in previous_members(pool.id, "pool")})

            jobs.append(fetch_pool_members)

        prev_listener_stats = previous.listener_stats if previous else {}
        for lst in listeners.values():

            async def fetch_listener_stats(lst: Listener = lst) -> None:
                try:
                    body = await self._client.get(
                        "listeners/{id}/stats", f"v2/lbaas/listeners/{lst.id}/stats")
                    listener_stats[lst.id] = parse.stats(body)
                except (ApiError, parse.ParseError) as exc:
                    error = exc if isinstance(exc, ApiError) else ApiError(
                        "listeners/{id}/stats", "malformed", str(exc))
                    self._failed(error)
                    if lst.id in prev_listener_stats:
                        listener_stats[lst.id] = prev_listener_stats[lst.id]

            jobs.append(fetch_listener_stats)

        if self.amphora_stats_enabled:
            prev_amp_stats = previous.amphora_stats if previous else {}
            for amp in amphorae.values():
                if amp.status in ("DELETED", "PENDING_DELETE"):
                    continue

                async def fetch_amphora_stats(amp: Amphora = amp) -> None:
                    try:
                        body = await self._client.get(
                            "amphorae/{id}/stats", f"v2/octavia/amphorae/{amp.id}/stats")
                        for listener_id, row in parse.amphora_stats(body).items():
                            amphora_stats[(amp.id, listener_id)] = row
                    except (ApiError, parse.ParseError) as exc:
                        error = exc if isinstance(exc, ApiError) else ApiError(
                            "amphorae/{id}/stats", "malformed", str(exc))
                        self._failed(error)
                        for key, row in prev_amp_stats.items():
                            if key[0] == amp.id:
                                amphora_stats[key] = row

                jobs.append(fetch_amphora_stats)

        await self._run(jobs)

        lb_stats = self._loadbalancer_stats(loadbalancers, listeners, listener_stats, previous)
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
        )

    async def _run(self, jobs: list[Callable[[], Awaitable[None]]]) -> None:
        """A fixed pool of workers: 30,000 pending calls must not mean 30,000 tasks."""
        queue = iter(jobs)

        async def worker() -> None:
            for job in queue:
                await job()

        workers = [asyncio.create_task(worker()) for _ in range(min(self._concurrency, len(jobs)))]
        try:
            await asyncio.gather(*workers)
        finally:
            for task in workers:
                task.cancel()

    @staticmethod
    def _loadbalancer_stats(
        loadbalancers: Mapping[str, LoadBalancer],
        listeners: Mapping[str, Listener],
        listener_stats: Mapping[str, Stats],
        previous: FleetSnapshot | None,
    ) -> dict[str, Stats]:
        by_lb: dict[str, list[str]] = defaultdict(list)
        for lst in listeners.values():
            by_lb[lst.loadbalancer_id].append(lst.id)
        result: dict[str, Stats] = {}
        for lb_id in loadbalancers:
            listener_ids = by_lb.get(lb_id, [])
            if all(lid in listener_stats for lid in listener_ids):
                total = Stats()
                for lid in listener_ids:
                    total = total + listener_stats[lid]
                result[lb_id] = total
            elif previous is not None and lb_id in previous.loadbalancer_stats:
                # A partial sum would look like a counter reset; keep the last complete one.
                result[lb_id] = previous.loadbalancer_stats[lb_id]
        return result

    async def _amphorae(
        self, loadbalancers: Mapping[str, LoadBalancer], previous: FleetSnapshot | None
    ) -> dict[str, Amphora]:
        if not self.amphorae_enabled:
            return {}
        try:
            raw = await self._list("amphorae", "v2/octavia/amphorae", "amphorae", AMPHORA_FIELDS)
        except ApiError as exc:
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
        amphorae: dict[str, Amphora] = self._parse_all(
            "amphorae", raw, lambda item: parse.amphora(item, loadbalancers), {})
        # Octavia keeps DELETED amphorae in the list until housekeeping purges them (a week by
        # default); exporting them would grow the series count with every failover.
        return {k: a for k, a in amphorae.items() if a.status != "DELETED"}
