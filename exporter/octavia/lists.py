"""Tier 1: the bulk lists, a handful of paginated calls, into a snapshot without detail.

Load balancers, listeners, pools, health monitors, amphorae (admins) and Neutron floating IPs,
with fields= so pages stay small, all at once. Every object's provisioning and operating status
is in these lists, so once they are in, the fleet's state is current and is published. The
inventory (L7 policies, quotas, flavors, zones, providers: inventory.py) is read after them
(`inventory`): on a rate-limited API its half-dozen small calls would each wait for a token
between the pages, and tier 1 would wait for all of them. A failed load-balancer,
listener, pool or health-monitor list fails the tier (no consistent snapshot can be built); the
amphora and floating IP lists cannot, and are switched off for good on 403 (see capabilities).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from exporter.logs import cloud_logger
from exporter.model.capabilities import Capabilities
from exporter.model.parts import Inventory
from exporter.model.plan import in_shard
from exporter.model.share import same
from exporter.model.snapshot import (
    Amphora,
    FleetSnapshot,
    FloatingIP,
    HealthMonitor,
    LoadBalancer,
)
from exporter.octavia import failures, parse, source
from exporter.octavia.client import OctaviaClient
from exporter.octavia.errors import ApiError
from exporter.octavia.inventory import InventoryReader
from exporter.octavia.pacing import Pacer
from exporter.octavia.projects import ProjectNames
from exporter.telemetry import Telemetry

T = TypeVar("T")

LB_FIELDS = (
    "id", "name", "project_id", "provisioning_status", "operating_status", "admin_state_up",
    "vip_address", "vip_port_id", "vip_network_id", "vip_subnet_id", "provider", "flavor_id",
    "availability_zone", "created_at", "updated_at", "listeners", "pools",
    "vip_qos_policy_id", "vip_vnic_type", "vip_sg_ids", "additional_vips",
)
LISTENER_FIELDS = (
    "id", "name", "project_id", "loadbalancers", "provisioning_status", "operating_status",
    "admin_state_up", "protocol", "protocol_port", "default_pool_id", "connection_limit",
    "updated_at", "timeout_client_data", "timeout_member_connect", "timeout_member_data",
    "timeout_tcp_inspect", "allowed_cidrs", "tls_versions", "alpn_protocols", "hsts_max_age",
    "hsts_include_subdomains", "hsts_preload",
)
POOL_FIELDS = (
    "id", "name", "project_id", "loadbalancers", "listeners", "provisioning_status",
    "operating_status", "admin_state_up", "protocol", "lb_algorithm", "healthmonitor_id",
    "members", "updated_at", "session_persistence", "tls_enabled", "tls_versions",
    "alpn_protocols",
)
HM_FIELDS = (
    "id", "name", "project_id", "pools", "provisioning_status", "operating_status",
    "admin_state_up", "type", "updated_at", "delay", "timeout", "max_retries",
    "max_retries_down", "http_method", "url_path", "expected_codes",
)
FLOATING_IP_FIELDS = (
    "id", "floating_ip_address", "port_id", "status", "floating_network_id", "project_id",
)
AMPHORA_FIELDS = (
    "id", "loadbalancer_id", "compute_id", "status", "role", "lb_network_ip", "vrrp_ip",
    "ha_ip", "image_id", "compute_flavor", "cached_zone", "cert_expiration", "created_at",
    "updated_at",
)


class ListsFailed(Exception):
    """The bulk lists could not be read, so no consistent snapshot can be built."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(slots=True)
class ListRead:
    """What one read of the lists keeps while it runs, apart from every other read's: a
    reconciliation's paced read and a round's may overlap."""

    # Through the reconciliation's pacer (or one page at a time), or as fast as allowed.
    pace: Pacer | None = None
    # Its lists not answered yet, endpoint -> URL: what a cycle timeout abandoned, for its log.
    unanswered: dict[str, str] = field(default_factory=dict)
    # The newest updated_at each of its lists showed (API time).
    newest: dict[str, float] = field(default_factory=dict)

    def note_newest(self, endpoint: str, page: list[Any]) -> None:
        stamps = [t for row in page if parse.is_mapping(row)
                  and (t := parse.timestamp(row.get("updated_at"))) is not None]
        if stamps:
            self.newest[endpoint] = max(self.newest.get(endpoint, 0.0), *stamps)

    def pages(self) -> Any:
        return None if self.pace is None else self.pace.page

    def resize(self) -> Any:
        return None if self.pace is None else self.pace.next_size


class ListReader:
    def __init__(self, client: OctaviaClient, telemetry: Telemetry, capabilities: Capabilities,
                 *, shard: tuple[int, int] = (1, 1), page_size: int | None = None,
                 first_page_size: int | None = None,
                 names: ProjectNames | None = None, feed: bool = True,
                 startup_share: float = 1.0) -> None:
        """`first_page_size`: limit= of the lists while there is no snapshot yet (default:
        `page_size`). Until the first lists are in, nothing is served and /readyz says not
        ready, so those are read at the API's maximum by default: on a one-worker Octavia at
        2,000 load balancers our lists took 20 s in pages of 200 where a plain client's in
        pages of 1,000 took 11 s; afterwards small pages let other clients in between ours
        (docs/benchmarks.md)."""
        self.cloud = client.cloud
        self._log = cloud_logger("exporter.lists", self.cloud)
        self.feed = feed
        self._startup_share = startup_share
        self._client = client
        self._telemetry = telemetry.for_cloud(self.cloud)
        self.capabilities = capabilities
        self._shard = shard
        self._page_size = page_size
        self._first_page_size = page_size if first_page_size is None else first_page_size
        self._inventory = InventoryReader(client, capabilities, page_size=page_size,
                                          on_error=self._failed, on_malformed=self._malformed,
                                          names=names)
        # The read started last (its unanswered lists), and the newest updated_at each list
        # of the last complete read showed: where the changes feed starts from.
        self._latest = ListRead()
        self.newest: dict[str, float] = {}

    @property
    def unanswered(self) -> dict[str, str]:
        """The lists of the read started last not answered yet, endpoint -> URL."""
        return self._latest.unanswered

    async def _answered(self, run: ListRead, endpoint: str, path: str,
                        call: Callable[[str], Awaitable[T]], service: str = "load-balancer") -> T:
        url = await self._client.url(endpoint, path, service)
        # This read's own record: a list of a failed read may still be running in the next.
        waiting = run.unanswered
        waiting[endpoint] = url
        try:
            result = await call(url)
        except asyncio.CancelledError:
            raise  # abandoned by the cycle timeout: it stays unanswered
        except Exception:
            del waiting[endpoint]  # answered, if with an error
            raise
        del waiting[endpoint]
        return result

    def _failed(self, error: ApiError) -> None:
        failures.report(self._telemetry, error)

    def _malformed(self, endpoint: str, problem: str, url: str = "") -> None:
        self._telemetry.poll_error(endpoint, "malformed", url, problem)
        self._log.warning("malformed_object", endpoint=endpoint, reason="malformed",
                          url=url, problem=problem)

    def _collector(self, run: ListRead | None, endpoint: str, build: Callable[[Any], Any],
                   into: dict[str, Any], before: Mapping[str, Any],
                   url: str = "") -> Callable[[list[Any]], None]:
        """Parse a page as it arrives into `into`, so raw pages are freed page by page; with
        `run`, the page's newest updated_at is noted there."""
        def on_page(page: list[Any]) -> None:
            if run is not None:
                run.note_newest(endpoint, page)
            for obj in source.each(page, build, endpoint, url, self._malformed):
                into[obj.id] = same(before, obj.id, obj)
        return on_page

    async def _list(self, run: ListRead, endpoint: str, path: str, key: str,
                    fields: tuple[str, ...], size: int | None, build: Callable[[Any], Any],
                    into: dict[str, Any], before: Mapping[str, Any]) -> None:
        # The URL is known before the pages arrive: a malformed object is logged as parsed.
        await self._answered(run, endpoint, path, lambda url: self._client.list_all(
            endpoint, path, key, fields, size,
            on_page=self._collector(run, endpoint, build, into, before, url),
            pace=run.pages(), resize=run.resize()))

    async def _optional_parsed(self, run: ListRead, enabled: bool, endpoint: str, path: str,
                               key: str, fields: tuple[str, ...], size: int | None,
                               build: Callable[[Any], Any]) -> dict[str, Any] | ApiError | None:
        """A list beside the others whose failure must not fail the tier, parsed page by page
        through the running read's pacer."""
        if not enabled:
            return None
        found: dict[str, Any] = {}
        try:
            await self._list(run, endpoint, path, key, fields, size, build, found, {})
        except ApiError as exc:
            return exc
        return found

    async def _optional(self, run: ListRead, enabled: bool, endpoint: str, path: str, key: str,
                        fields: tuple[str, ...], size: int | None,
                        service: str = "load-balancer", paced: bool = True,
                        ) -> list[Any] | ApiError | None:
        """A list beside the others whose failure must not fail the tier; `paced`: through
        the running read's pacer, if it has one."""
        if not enabled:
            return None
        try:
            pages: list[Any] = []

            def on_page(page: list[Any]) -> None:
                run.note_newest(endpoint, page)
                pages.extend(page)
            await self._answered(run, endpoint, path, lambda _: self._client.list_all(
                endpoint, path, key, fields, size, service=service, on_page=on_page,
                pace=run.pages() if paced else None,
                resize=run.resize() if paced else None), service)
            return pages
        except ApiError as exc:
            return exc

    async def loadbalancers(self, previous: FleetSnapshot | None,
                            pace: Pacer) -> dict[str, LoadBalancer]:
        """This shard's load balancers from their list alone, through `pace`: a sixth of the
        lists' cost, which is what finding deletions needs. Raises ListsFailed."""
        run = ListRead(pace)
        raw: dict[str, Any] = {}
        try:
            await self._list(run, "loadbalancers", "v2/lbaas/loadbalancers", "loadbalancers",
                             LB_FIELDS, self._page_size, parse.loadbalancer, raw,
                             previous.loadbalancers if previous else {})
        except ApiError as exc:
            self._failed(exc)
            raise ListsFailed(exc) from exc
        return {k: v for k, v in raw.items() if in_shard(k, self._shard)}

    async def read(self, previous: FleetSnapshot | None, pace: Pacer | None = None,
                   loadbalancers_first: Callable[[FleetSnapshot], None] | None = None,
                   ) -> FleetSnapshot:
        """The lists, parsed against `previous` (unchanged objects are shared), without the
        inventory (read apart: `inventory`). `pace`: one page at a time, with its gaps (the
        reconciliation); followed by the changes feed, pages go one at a time anyway.
        `loadbalancers_first`: read the load-balancer list before the others and hand it
        over as soon as it is in (a snapshot of load balancers only). Raises ListsFailed."""
        run = ListRead(pace if pace is not None or not self.feed else Pacer(1.0))
        self._latest = run
        started = time.time()
        empty: Mapping[str, Any] = {}
        raw_lbs: dict[str, Any] = {}
        raw_listeners: dict[str, Any] = {}
        raw_pools: dict[str, Any] = {}
        # Health monitors and amphorae are parsed page by page as the others are (a paced
        # reconciliation of 10,000 load balancers would otherwise hold 30,000 raw rows for
        # its whole duration); what they take from other lists (a monitor's load balancer,
        # an amphora's project) is filled in when every list is in.
        raw_hms: dict[str, HealthMonitor] = {}
        caps = self.capabilities
        # Followed by the changes feed, even the first lists are read in small pages, one at a
        # time: nothing else then needs them fast enough to hold other clients up.
        size = (self._page_size if previous is not None or self.feed
                else self._first_page_size)
        lb_list = self._list(run, "loadbalancers", "v2/lbaas/loadbalancers", "loadbalancers",
                             LB_FIELDS, size, parse.loadbalancer, raw_lbs,
                             previous.loadbalancers if previous else empty)
        try:
            if loadbalancers_first is not None:
                await lb_list
                if pace is None and self._startup_share < 1.0:
                    # The other kinds, within the start-up's share of the API's time.
                    run.pace = Pacer(self._startup_share)
                loadbalancers_first(FleetSnapshot(cloud=self.cloud, taken_at=started,
                                                  loadbalancers={
                                                      k: v for k, v in raw_lbs.items()
                                                      if in_shard(k, self._shard)}))
                lb_list = asyncio.sleep(0)
            _, _, _, _, raw_amphorae, floating_raw = await asyncio.gather(
                lb_list,
                self._list(run, "listeners", "v2/lbaas/listeners", "listeners", LISTENER_FIELDS,
                           size, parse.listener, raw_listeners,
                           previous.listeners if previous else empty),
                self._list(run, "pools", "v2/lbaas/pools", "pools", POOL_FIELDS, size, parse.pool,
                           raw_pools, previous.pools if previous else empty),
                self._list(run, "healthmonitors", "v2/lbaas/healthmonitors", "healthmonitors",
                           HM_FIELDS, size, lambda raw: parse.healthmonitor(raw, empty), raw_hms,
                           empty),
                self._optional_parsed(run, caps.amphorae, "amphorae", "v2/octavia/amphorae",
                                      "amphorae", AMPHORA_FIELDS, size,
                                      lambda raw: parse.amphora(raw, empty)),
                self._optional(run, caps.floating_ips, "floatingips", "v2.0/floatingips",
                               "floatingips", FLOATING_IP_FIELDS, size, service="network"),
            )
        except ApiError as exc:
            self._failed(exc)
            raise ListsFailed(exc) from exc
        loadbalancers = {k: v for k, v in raw_lbs.items() if in_shard(k, self._shard)}
        listeners = {k: v for k, v in raw_listeners.items() if v.loadbalancer_id in loadbalancers}
        pools = {k: v for k, v in raw_pools.items() if v.loadbalancer_id in loadbalancers}
        before_hms = previous.healthmonitors if previous else empty
        healthmonitors = {
            k: same(before_hms, k, dataclasses.replace(
                v, loadbalancer_id=pools[v.pool_id].loadbalancer_id))
            for k, v in raw_hms.items() if v.pool_id in pools}
        amphorae = self._amphorae(raw_amphorae, loadbalancers, previous)
        floating_ips = self._floating_ips(floating_raw, loadbalancers, previous,
                                          await self._url_of(floating_raw, "floatingips",
                                                             "v2.0/floatingips", "network"))
        lists = FleetSnapshot(
            cloud=self.cloud, taken_at=started, loadbalancers=loadbalancers,
            listeners=listeners, pools=pools, healthmonitors=healthmonitors, amphorae=amphorae,
            floating_ips=floating_ips)
        self.newest = run.newest
        return lists


    async def floating_ips(self, snapshot: FleetSnapshot) -> dict[str, FloatingIP]:
        """Neutron's floating IPs joined to `snapshot`'s load balancers, read whole: Neutron
        is another service than the API the changes feed spares, and its list shows no
        deletion. A failure keeps what `snapshot` had."""
        # Not through the pacer of a reconciliation that may be reading at the same time:
        # its pages must keep their gaps, and Neutron is not the API they spare.
        raw = await self._optional(ListRead(), self.capabilities.floating_ips, "floatingips",
                                   "v2.0/floatingips", "floatingips", FLOATING_IP_FIELDS,
                                   self._page_size, service="network", paced=False)
        return self._floating_ips(raw, snapshot.loadbalancers, snapshot, await self._url_of(
            raw, "floatingips", "v2.0/floatingips", "network"))

    async def inventory(self, snapshot: FleetSnapshot) -> Inventory:
        """The inventory, read after the lists of `snapshot` (whose projects it completes the
        quotas of). Never raises: a failed part keeps what `snapshot` had."""
        return await self._inventory.read(snapshot)

    async def _url_of(self, raw: list[Any] | ApiError | None, endpoint: str, path: str,
                      service: str = "load-balancer") -> str:
        """The URL a list was read from, for its malformed objects ("" when not read)."""
        if not isinstance(raw, list):
            return raw.url if isinstance(raw, ApiError) else ""
        return await self._client.url(endpoint, path, service)

    def _floating_ips(self, raw: list[Any] | ApiError | None,
                      loadbalancers: Mapping[str, Any],
                      previous: FleetSnapshot | None, url: str = "") -> dict[str, FloatingIP]:
        if raw is None:
            return {}
        if isinstance(raw, ApiError):
            if raw.reason == "no_endpoint" or raw.status in (403, 404):
                self.capabilities.disable_floating_ips()
                self._log.warning(
                    "floating_ips_disabled", url=url,
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
        for fip in source.each(raw, lambda item: parse.floating_ip(item, by_port),
                               "floatingips", url, self._malformed):
            if fip is not None:
                found[fip.id] = same(before, fip.id, fip)
        return found

    def _amphorae(self, parsed: dict[str, Amphora] | ApiError | None,
                  loadbalancers: Mapping[str, Any],
                  previous: FleetSnapshot | None) -> dict[str, Amphora]:
        if parsed is None:
            return {}
        if isinstance(parsed, ApiError):
            if parsed.status == 403:
                self.capabilities.disable_amphorae()
                self._log.warning(
                    "amphorae_disabled", url=parsed.url,
                    reason="the API answered 403: listing amphorae needs the admin or "
                    "global observer role; amphora metrics are off until restart",
                )
                return {}
            self._failed(parsed)
            return dict(previous.amphorae) if previous else {}
        before = previous.amphorae if previous else {}
        amphorae: dict[str, Amphora] = {}
        for k, a in parsed.items():
            # Octavia keeps DELETED amphorae in the list until housekeeping purges them (a
            # week by default); exporting them would grow the series count with every
            # failover. Spares (no load balancer) belong to no shard but the first.
            owner = loadbalancers.get(a.loadbalancer_id)
            if a.status == "DELETED" or (owner is None and (
                    a.loadbalancer_id or self._shard[0] != 1)):
                continue
            if owner is not None:
                a = dataclasses.replace(a, project_id=owner.project_id)
            amphorae[k] = same(before, k, a)
        return amphorae
