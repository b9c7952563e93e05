"""The simulated fleet: Octavia objects, their statuses and statistics, Neutron's floating IPs on
the load balancers' VIP ports, and a seeded generator.

The model mirrors what the Octavia API exposes (see ``views.py`` for the JSON shapes). Objects are
kept in dicts by id plus sorted indexes (global and per project) so that list pages are cheap.
Statistics are kept as Octavia keeps them: one row per (listener, amphora); a listener's stats are
the sum of its rows (active connections only from ALLOCATED amphorae, or from the row whose
amphora id is the listener id, which is what non-amphora providers write); a load balancer's
stats are the sum of its listeners'.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from exporter.simulator.index import SortedIndex, SortKey

# Provisioning statuses
ACTIVE = "ACTIVE"
DELETED = "DELETED"
ERROR = "ERROR"
PENDING_CREATE = "PENDING_CREATE"
PENDING_UPDATE = "PENDING_UPDATE"
PENDING_DELETE = "PENDING_DELETE"
# Operating statuses
ONLINE = "ONLINE"
OFFLINE = "OFFLINE"
DEGRADED = "DEGRADED"
DRAINING = "DRAINING"
NO_MONITOR = "NO_MONITOR"
# Amphora statuses and roles
ALLOCATED = "ALLOCATED"
READY = "READY"
BOOTING = "BOOTING"
STANDALONE = "STANDALONE"
MASTER = "MASTER"
BACKUP = "BACKUP"

PROVISIONING_STATUSES = (
    ACTIVE, DELETED, ERROR, PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE,
)
OPERATING_STATUSES = (ONLINE, OFFLINE, DEGRADED, ERROR, DRAINING, NO_MONITOR)
AMPHORA_STATUSES = (
    BOOTING, ALLOCATED, READY, PENDING_CREATE, PENDING_DELETE, DELETED, ERROR,
    "FAILOVER_STOPPED",
)

KINDS = (
    "loadbalancers", "listeners", "pools", "members", "healthmonitors", "l7policies",
    "amphorae", "l7rules",
)
PROJECT_SCOPED_KINDS = (
    "loadbalancers", "listeners", "pools", "members", "healthmonitors", "l7policies",
    "l7rules",
)
# Octavia's quota resources (the API's keys) and its shipped defaults ([quotas] default_*: -1)
QUOTA_RESOURCES = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "l7policy",
                   "l7rule")

# Floating IP statuses (neutron_lib.constants FLOATINGIP_STATUS_*)
FIP_ACTIVE = "ACTIVE"
FIP_DOWN = "DOWN"
FIP_ERROR = "ERROR"
FLOATINGIP_STATUSES = (FIP_ACTIVE, FIP_DOWN, FIP_ERROR)

DAY = 86400


def iso(ts: int | None) -> str | None:
    """Render a timestamp the way Octavia's API does (seconds precision, no zone)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S")


@dataclass(slots=True)
class Project:
    id: str
    name: str
    domain_id: str = "default"


@dataclass(slots=True)
class LoadBalancer:
    id: str
    project_id: str
    name: str
    description: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    created_at: int
    updated_at: int | None
    vip_address: str
    vip_port_id: str
    vip_subnet_id: str
    vip_network_id: str
    provider: str
    flavor_id: str | None = None
    availability_zone: str | None = None
    topology: str | None = None
    tags: list[str] = field(default_factory=list)
    listener_ids: list[str] = field(default_factory=list)
    pool_ids: list[str] = field(default_factory=list)
    amphora_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Listener:
    id: str
    project_id: str
    loadbalancer_id: str
    name: str
    description: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    protocol: str
    protocol_port: int
    created_at: int
    updated_at: int | None
    connection_limit: int = -1
    default_pool_id: str | None = None
    timeout_client_data: int = 50000
    timeout_member_connect: int = 5000
    timeout_member_data: int = 50000
    timeout_tcp_inspect: int = 0
    allowed_cidrs: list[str] | None = None
    tags: list[str] = field(default_factory=list)
    l7policy_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Pool:
    id: str
    project_id: str
    loadbalancer_id: str
    name: str
    description: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    protocol: str
    lb_algorithm: str
    created_at: int
    updated_at: int | None
    session_persistence: dict[str, object] | None = None
    healthmonitor_id: str | None = None
    tls_enabled: bool = False
    tags: list[str] = field(default_factory=list)
    member_ids: list[str] = field(default_factory=list)
    # listeners using this pool as default pool; l7policies redirecting to it
    default_listener_ids: list[str] = field(default_factory=list)
    redirect_l7policy_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Member:
    id: str
    project_id: str
    pool_id: str
    name: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    address: str
    protocol_port: int
    created_at: int
    updated_at: int | None
    weight: int = 1
    backup: bool = False
    subnet_id: str | None = None
    monitor_address: str | None = None
    monitor_port: int | None = None
    tags: list[str] = field(default_factory=list)
    vnic_type: str = "normal"


@dataclass(slots=True)
class HealthMonitor:
    id: str
    project_id: str
    pool_id: str
    name: str
    type: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    created_at: int
    updated_at: int | None
    delay: int = 5
    timeout: int = 3
    max_retries: int = 3
    max_retries_down: int = 3
    http_method: str | None = None
    url_path: str | None = None
    expected_codes: str | None = None
    http_version: float | None = None
    domain_name: str | None = None
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class L7Policy:
    id: str
    project_id: str
    listener_id: str
    name: str
    description: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    action: str
    position: int
    created_at: int
    updated_at: int | None
    redirect_pool_id: str | None = None
    redirect_url: str | None = None
    redirect_prefix: str | None = None
    redirect_http_code: int | None = None
    rule_ids: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class L7Rule:
    """An L7 rule; ``value`` is what the API serves and the exporter never asks for."""

    id: str
    project_id: str
    l7policy_id: str
    type: str
    compare_type: str
    value: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    created_at: int
    updated_at: int | None
    key: str | None = None
    invert: bool = False
    tags: list[str] = field(default_factory=list)


@dataclass(slots=True)
class FlavorProfile:
    id: str
    name: str
    provider_name: str
    flavor_data: str


@dataclass(slots=True)
class Flavor:
    id: str
    name: str
    description: str
    enabled: bool
    flavor_profile_id: str


@dataclass(slots=True)
class AvailabilityZoneProfile:
    id: str
    name: str
    provider_name: str
    availability_zone_data: str


@dataclass(slots=True)
class AvailabilityZone:
    name: str
    description: str
    enabled: bool
    availability_zone_profile_id: str


@dataclass(slots=True)
class Amphora:
    id: str
    loadbalancer_id: str | None
    compute_id: str
    lb_network_ip: str
    vrrp_ip: str | None
    ha_ip: str | None
    vrrp_port_id: str | None
    ha_port_id: str | None
    cert_expiration: int
    role: str | None
    status: str
    created_at: int
    updated_at: int | None
    image_id: str
    compute_flavor: str
    cert_busy: bool = False
    vrrp_interface: str | None = None
    vrrp_id: int | None = None
    vrrp_priority: int | None = None
    cached_zone: str | None = "nova"


@dataclass(slots=True)
class StatsRow:
    """One row of Octavia's listener_statistics table."""

    listener_id: str
    amphora_id: str
    bytes_in: int = 0
    bytes_out: int = 0
    active_connections: int = 0
    total_connections: int = 0
    request_errors: int = 0


@dataclass(slots=True)
class FloatingIP:
    """A Neutron floating IP. ``port_id`` is the VIP port of the load balancer it is attached
    to (Neutron's ``fixed_port_id``), or None."""

    id: str
    project_id: str
    floating_ip_address: str
    floating_network_id: str
    status: str
    created_at: int
    updated_at: int
    port_id: str | None = None
    fixed_ip_address: str | None = None
    router_id: str | None = None
    description: str = ""
    tags: list[str] = field(default_factory=list)
    revision_number: int = 0
    dns_domain: str = ""
    dns_name: str = ""
    qos_policy_id: str | None = None


STAT_FIELDS = (
    "bytes_in", "bytes_out", "active_connections", "total_connections", "request_errors",
)

AnyObject = LoadBalancer | Listener | Pool | Member | HealthMonitor | L7Policy | Amphora | L7Rule


@dataclass(slots=True)
class LBShape:
    """The shape of one generated load balancer tree (also the control API's create body)."""

    listeners: int = 2
    pools: int = 2
    members_per_pool: int = 5
    # vary the member count per pool around members_per_pool (the generator does)
    member_jitter: bool = False
    healthmonitor: bool = True
    amphorae: int = 2
    l7policy: bool = False
    name: str | None = None
    project_id: str | None = None
    provisioning_status: str = ACTIVE
    operating_status: str | None = None


@dataclass
class FleetSpec:
    """What to generate. The same spec (seed included) always gives the same fleet."""

    seed: int = 42
    projects: int = 3
    lbs: int = 10
    listeners_per_lb: int = 2
    pools_per_lb: int = 2
    members_per_pool: int = 5
    healthmonitor_share: float = 0.8
    amphorae_per_lb: int = 2
    error_share: float = 0.02
    degraded_share: float = 0.05
    pending_share: float = 0.02
    no_listener_share: float = 0.03
    unattached_pool_share: float = 0.05
    l7policy_share: float = 0.1
    admin_down_share: float = 0.01
    spare_amphorae: int = 0
    start_time: float | None = None
    floatingip_share: float = 0.6
    two_floatingip_share: float = 0.05
    unattached_floatingip_share: float = 0.05


class Fleet:
    """The mutable state of one region's Octavia."""

    def __init__(self, clock: int, rng: random.Random) -> None:
        self.clock = clock
        self._last_write = clock
        # Off while the fleet is generated: its rows carry the timestamps the generator gives.
        self.stamping = False
        self.rng = rng
        self.projects: dict[str, Project] = {}
        self.loadbalancers: dict[str, LoadBalancer] = {}
        self.listeners: dict[str, Listener] = {}
        self.pools: dict[str, Pool] = {}
        self.members: dict[str, Member] = {}
        self.healthmonitors: dict[str, HealthMonitor] = {}
        self.l7policies: dict[str, L7Policy] = {}
        self.l7rules: dict[str, L7Rule] = {}
        self.amphorae: dict[str, Amphora] = {}
        # what the cloud offers, and its quotas: project -> resource -> limit (None: default)
        self.flavor_profiles: dict[str, FlavorProfile] = {}
        self.flavors: dict[str, Flavor] = {}
        self.az_profiles: dict[str, AvailabilityZoneProfile] = {}
        self.availability_zones: dict[str, AvailabilityZone] = {}
        self.providers: dict[str, str] = dict(PROVIDERS)
        self.quotas: dict[str, dict[str, int | None]] = {}
        self.quota_defaults: dict[str, int] = dict.fromkeys(QUOTA_RESOURCES, -1)
        # load balancers in amphora failover: lb id -> (old amphora id, new amphora id)
        self.failovers: dict[str, tuple[str, str]] = {}
        # listener id -> amphora id -> row
        self.stats: dict[str, dict[str, StatsRow]] = {}
        self.index: dict[str, SortedIndex] = {k: SortedIndex() for k in KINDS}
        self.project_index: dict[str, dict[str, SortedIndex]] = {
            k: {} for k in PROJECT_SCOPED_KINDS
        }
        # load balancers the scenario moves on at its next step
        self.transitions: dict[str, str] = {}
        # certificates expire 1..400 days after this (the generator's "now"), else the clock
        self.cert_base: int | None = None
        self._counter = 0
        # Neutron: floating IPs by id, ordered by id (Neutron's default order), per project,
        # by the port they are attached to, and the unattached ones per project
        self.floatingips: dict[str, FloatingIP] = {}
        self.fip_index = SortedIndex()
        self.fip_project_index: dict[str, SortedIndex] = {}
        self.fips_by_port: dict[str, list[str]] = {}
        self.free_fips: dict[str, SortedIndex] = {}
        self.lb_by_port: dict[str, str] = {}
        # floating IPs draw from their own RNG so that they leave the Octavia objects alone
        self.net_rng = random.Random(0)
        self._fip_serial = 0

    # ----- lookup ---------------------------------------------------------------------------
    def table(self, kind: str) -> dict[str, AnyObject]:
        tables: dict[str, dict[str, AnyObject]] = {
            "loadbalancers": self.loadbalancers,  # type: ignore[dict-item]
            "listeners": self.listeners,  # type: ignore[dict-item]
            "pools": self.pools,  # type: ignore[dict-item]
            "members": self.members,  # type: ignore[dict-item]
            "healthmonitors": self.healthmonitors,  # type: ignore[dict-item]
            "l7policies": self.l7policies,  # type: ignore[dict-item]
            "amphorae": self.amphorae,  # type: ignore[dict-item]
            "l7rules": self.l7rules,  # type: ignore[dict-item]
        }
        return tables[kind]

    def project_of(self, kind: str, obj: AnyObject) -> str | None:
        if isinstance(obj, Amphora):
            lb = self.loadbalancers.get(obj.loadbalancer_id or "")
            return lb.project_id if lb else None
        return obj.project_id

    def lb_of(self, kind: str, obj: AnyObject) -> LoadBalancer | None:
        if isinstance(obj, LoadBalancer):
            return obj
        if isinstance(obj, Listener | Pool | Amphora):
            return self.loadbalancers.get(obj.loadbalancer_id or "")
        if isinstance(obj, Member | HealthMonitor):
            pool = self.pools.get(obj.pool_id)
            return self.loadbalancers.get(pool.loadbalancer_id) if pool else None
        if isinstance(obj, L7Rule):
            owner = self.l7policies.get(obj.l7policy_id)
            return self.lb_of("l7policies", owner) if owner else None
        listener = self.listeners.get(obj.listener_id)
        return self.loadbalancers.get(listener.loadbalancer_id) if listener else None

    @staticmethod
    def key(obj: AnyObject) -> SortKey:
        return (obj.created_at, obj.id)

    # ----- ids ------------------------------------------------------------------------------
    def new_uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_hex(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def next_serial(self) -> int:
        self._counter += 1
        return self._counter

    # ----- add / remove ---------------------------------------------------------------------
    def _add(self, kind: str, obj: AnyObject) -> None:
        self.table(kind)[obj.id] = obj
        if isinstance(obj, LoadBalancer):
            self.lb_by_port[obj.vip_port_id] = obj.id
        key = self.key(obj)
        self.index[kind].add(key)
        if kind in self.project_index:
            project = self.project_of(kind, obj)
            if project is not None:
                self.project_index[kind].setdefault(project, SortedIndex()).add(key)

    def _remove(self, kind: str, obj: AnyObject) -> None:
        key = self.key(obj)
        if kind in self.project_index:
            project = self.project_of(kind, obj)
            idx = self.project_index[kind].get(project or "")
            if idx is not None:
                idx.remove(key)
        self.index[kind].remove(key)
        del self.table(kind)[obj.id]
        if isinstance(obj, LoadBalancer):
            self.lb_by_port.pop(obj.vip_port_id, None)

    def add_project(self, name: str, project_id: str | None = None) -> Project:
        project = Project(id=project_id or self.new_hex(), name=name)
        self.projects[project.id] = project
        return project

    def project_by_name(self, name: str) -> Project | None:
        for project in self.projects.values():
            if project.name == name:
                return project
        return None

    # ----- children -------------------------------------------------------------------------
    def listener_pools(self, listener: Listener) -> list[Pool]:
        """Pools a listener actually uses: default pool, then enabled L7 redirects with rules."""
        result: list[Pool] = []
        seen: set[str] = set()
        if listener.default_pool_id and listener.default_pool_id in self.pools:
            result.append(self.pools[listener.default_pool_id])
            seen.add(listener.default_pool_id)
        for policy_id in listener.l7policy_ids:
            policy = self.l7policies.get(policy_id)
            if (
                policy is None or policy.redirect_pool_id is None or not policy.rule_ids
                or not policy.admin_state_up or policy.redirect_pool_id in seen
            ):
                continue
            pool = self.pools.get(policy.redirect_pool_id)
            if pool is not None:
                result.append(pool)
                seen.add(pool.id)
        return result

    def pool_listener_ids(self, pool: Pool) -> list[str]:
        """Listeners actually using a pool: default listeners, then enabled L7 redirects."""
        result = list(pool.default_listener_ids)
        for policy_id in pool.redirect_l7policy_ids:
            policy = self.l7policies.get(policy_id)
            if (
                policy is not None and policy.rule_ids and policy.admin_state_up
                and policy.listener_id not in result
            ):
                result.append(policy.listener_id)
        return result

    def amphora_stats_rows(self, amphora: Amphora) -> list[StatsRow]:
        if amphora.loadbalancer_id is None:
            return []
        lb = self.loadbalancers.get(amphora.loadbalancer_id)
        if lb is None:
            return []
        rows = []
        for listener_id in lb.listener_ids:
            row = self.stats.get(listener_id, {}).get(amphora.id)
            if row is not None:
                rows.append(row)
        return rows

    # ----- statistics -----------------------------------------------------------------------
    def listener_stats(self, listener_id: str) -> dict[str, int]:
        totals = dict.fromkeys(STAT_FIELDS, 0)
        for row in self.stats.get(listener_id, {}).values():
            totals["bytes_in"] += row.bytes_in
            totals["bytes_out"] += row.bytes_out
            totals["total_connections"] += row.total_connections
            totals["request_errors"] += row.request_errors
            amp = self.amphorae.get(row.amphora_id)
            if (amp is not None and amp.status == ALLOCATED) or row.amphora_id == listener_id:
                totals["active_connections"] += row.active_connections
        return totals

    def loadbalancer_stats(self, lb: LoadBalancer) -> dict[str, int]:
        totals = dict.fromkeys(STAT_FIELDS, 0)
        for listener_id in lb.listener_ids:
            for name, value in self.listener_stats(listener_id).items():
                totals[name] += value
        return totals

    def stats_row(self, listener_id: str, amphora_id: str | None = None) -> StatsRow:
        """The row for (listener, amphora); the first amphora's row when none is given."""
        rows = self.stats.setdefault(listener_id, {})
        if amphora_id is None:
            if rows:
                return next(iter(rows.values()))
            amphora_id = listener_id
        row = rows.get(amphora_id)
        if row is None:
            row = StatsRow(listener_id=listener_id, amphora_id=amphora_id)
            rows[amphora_id] = row
        return row

    def start_stamping(self) -> None:
        """From now on writes are stamped, each after every timestamp the fleet holds."""
        stamps = [getattr(obj, name) for table in (
            self.loadbalancers, self.listeners, self.pools, self.members, self.healthmonitors,
            self.l7policies, self.l7rules, self.amphorae) for obj in table.values()
            for name in ("created_at", "updated_at")]
        self._last_write = max([self.clock, self._last_write,
                                *(s for s in stamps if isinstance(s, int))])
        self.stamping = True

    def write_stamp(self) -> int:
        """The updated_at of a write now: Octavia's clock moves on between two writes, so
        each is after the last (a reader that follows updated_at relies on it)."""
        self._last_write = max(self.clock, self._last_write + 1)
        return self._last_write

    # ----- status roll-up -------------------------------------------------------------------
    def rollup(self, lb: LoadBalancer) -> None:
        """Recompute pool, listener and LB operating status from the members, like the
        health manager: a member in ERROR makes its pool DEGRADED (all of them: ERROR), a
        DEGRADED/ERROR pool makes its listeners and the load balancer DEGRADED. As the health
        manager, it writes (and moves updated_at of) only the rows whose status changed."""
        rows: list[Any] = [lb, *(self.pools[p] for p in lb.pool_ids),
                           *(self.listeners[x] for x in lb.listener_ids)]
        before = [row.operating_status for row in rows]
        self._rollup(lb)
        for row, old in zip(rows, before, strict=True):
            if row.operating_status != old and self.stamping:
                row.updated_at = self.write_stamp()

    def _rollup(self, lb: LoadBalancer) -> None:
        bad_pools: set[str] = set()
        for pool_id in lb.pool_ids:
            pool = self.pools[pool_id]
            pool.operating_status = self._pool_status(pool)
            if pool.operating_status in (ERROR, DEGRADED):
                bad_pools.add(pool.id)
        degraded = bool(bad_pools)
        for listener_id in lb.listener_ids:
            listener = self.listeners[listener_id]
            if not listener.admin_state_up:
                listener.operating_status = OFFLINE
                continue
            pools = self.listener_pools(listener)
            if any(p.id in bad_pools for p in pools):
                listener.operating_status = DEGRADED
                degraded = True
            else:
                listener.operating_status = ONLINE
        if not lb.admin_state_up:
            lb.operating_status = OFFLINE
        elif lb.provisioning_status == ERROR:
            lb.operating_status = ERROR
        else:
            lb.operating_status = DEGRADED if degraded else ONLINE

    def _pool_status(self, pool: Pool) -> str:
        if not pool.admin_state_up:
            return OFFLINE
        members = [self.members[m] for m in pool.member_ids]
        enabled = [m for m in members if m.admin_state_up]
        if not enabled:
            return ONLINE
        errors = sum(1 for m in enabled if m.operating_status == ERROR)
        if errors == 0:
            return ONLINE
        return ERROR if errors == len(enabled) else DEGRADED

    def member_ok_status(self, pool: Pool) -> str:
        return ONLINE if pool.healthmonitor_id else NO_MONITOR

    # ----- tree creation --------------------------------------------------------------------
    def create_lb_tree(self, shape: LBShape, serial: int | None = None) -> LoadBalancer:
        """Create a load balancer with listeners, pools, members, monitors and amphorae."""
        rng = self.rng
        n = serial if serial is not None else self.next_serial()
        now = self.clock
        project_id = shape.project_id
        if project_id is None:
            scoped = [p for p in self.projects.values() if p.name not in ("admin", "service")]
            project_id = scoped[n % len(scoped)].id if scoped else self.new_hex()
        name = shape.name if shape.name is not None else _lb_name(n, rng)
        provider = "amphora" if shape.amphorae > 0 else "ovn"
        topology = None
        if shape.amphorae == 1:
            topology = "SINGLE"
        elif shape.amphorae >= 2:
            topology = "ACTIVE_STANDBY"
        lb = LoadBalancer(
            id=self.new_uuid(),
            project_id=project_id,
            name=name,
            description="" if n % 3 else f"simulated load balancer {n}",
            provisioning_status=shape.provisioning_status,
            operating_status=ONLINE,
            admin_state_up=True,
            created_at=now,
            updated_at=now if n % 2 else None,
            vip_address=f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}",
            vip_port_id=self.new_uuid(),
            vip_subnet_id=_SUBNET_ID,
            vip_network_id=_NETWORK_ID,
            provider=provider,
            availability_zone=None,
            topology=topology,
            tags=["sim"] if n % 4 == 0 else [],
        )
        self._add("loadbalancers", lb)

        # amphorae
        roles = [STANDALONE] if shape.amphorae == 1 else [MASTER, BACKUP][: shape.amphorae]
        roles += [BACKUP] * max(0, shape.amphorae - 2)
        for i, role in enumerate(roles):
            self._add_amphora(lb, role, i)

        # pools
        protocols = ["HTTP", "HTTPS", "TCP", "UDP"]
        pools: list[Pool] = []
        for i in range(shape.pools):
            protocol = protocols[i % len(protocols)]
            pool = Pool(
                id=self.new_uuid(),
                project_id=project_id,
                loadbalancer_id=lb.id,
                name=f"{name or 'lb'}-pool-{i}" if n % 11 else "",
                description="",
                provisioning_status=ACTIVE,
                operating_status=ONLINE,
                admin_state_up=True,
                protocol=protocol,
                lb_algorithm=("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP")[i % 3],
                created_at=now,
                updated_at=None,
                session_persistence=(
                    {"type": "HTTP_COOKIE", "cookie_name": None, "persistence_timeout": None,
                     "persistence_granularity": None}
                    if protocol == "HTTP" and n % 5 == 0 else None
                ),
            )
            self._add("pools", pool)
            lb.pool_ids.append(pool.id)
            pools.append(pool)
            if shape.healthmonitor:
                self._add_healthmonitor(pool, n)
            count = (
                shape.members_per_pool if shape.members_per_pool <= 1 or not shape.member_jitter
                else rng.randint(shape.members_per_pool - shape.members_per_pool // 2,
                                 shape.members_per_pool + shape.members_per_pool // 2)
            )
            for j in range(count):
                self._add_member(pool, n, j)

        # listeners: listener i takes pool i as its default pool
        ports = {"HTTP": 80, "HTTPS": 443, "TCP": 8080, "UDP": 53}
        for i in range(shape.listeners):
            protocol = protocols[i % len(protocols)]
            listener = Listener(
                id=self.new_uuid(),
                project_id=project_id,
                loadbalancer_id=lb.id,
                name=f"{name or 'lb'}-listener-{i}" if n % 13 else "",
                description="",
                provisioning_status=ACTIVE,
                operating_status=ONLINE,
                admin_state_up=True,
                protocol=protocol,
                protocol_port=ports[protocol] + 1000 * (i // len(protocols)),
                created_at=now,
                updated_at=None,
                timeout_tcp_inspect=0,
                allowed_cidrs=["0.0.0.0/0"] if n % 7 == 0 else None,
            )
            self._add("listeners", listener)
            lb.listener_ids.append(listener.id)
            if i < len(pools) and pools[i].protocol == protocol:
                listener.default_pool_id = pools[i].id
                pools[i].default_listener_ids.append(listener.id)
            self._add_stats_rows(lb, listener)

        # an L7 policy on the first HTTP listener, redirecting to the last pool
        if shape.l7policy and lb.listener_ids and pools:
            listener = self.listeners[lb.listener_ids[0]]
            target = pools[-1]
            policy = L7Policy(
                id=self.new_uuid(),
                project_id=project_id,
                listener_id=listener.id,
                name=f"{name or 'lb'}-redirect",
                description="",
                provisioning_status=ACTIVE,
                operating_status=ONLINE,
                admin_state_up=True,
                action="REDIRECT_TO_POOL",
                position=1,
                created_at=now,
                updated_at=None,
                redirect_pool_id=target.id,
                rule_ids=[self.new_uuid()],
            )
            self._add("l7policies", policy)
            self.add_l7rule(policy, "PATH", "STARTS_WITH", "/api", rule_id=policy.rule_ids[0])
            listener.l7policy_ids.append(policy.id)
            target.redirect_l7policy_ids.append(policy.id)

        if shape.provisioning_status != ACTIVE:
            for listener_id in lb.listener_ids:
                self.listeners[listener_id].provisioning_status = shape.provisioning_status
        self.rollup(lb)
        if shape.operating_status is not None:
            lb.operating_status = shape.operating_status
        return lb

    def add_l7rule(self, policy: L7Policy, rule_type: str, compare_type: str, value: str,
                   key: str | None = None, invert: bool = False,
                   rule_id: str | None = None) -> L7Rule:
        rule = L7Rule(
            id=rule_id or self.new_uuid(), project_id=policy.project_id,
            l7policy_id=policy.id, type=rule_type, compare_type=compare_type, value=value,
            provisioning_status=ACTIVE, operating_status=ONLINE, admin_state_up=True,
            created_at=policy.created_at, updated_at=None, key=key, invert=invert)
        self._add("l7rules", rule)
        if rule.id not in policy.rule_ids:
            policy.rule_ids.append(rule.id)
        return rule

    def quota_of(self, project_id: str) -> dict[str, int]:
        """What ``GET /v2/lbaas/quotas/{project_id}`` answers: the project's row with the
        defaults filled in, or the defaults (octavia/api/v2/controllers/base.py)."""
        row = self.quotas.get(project_id, {})
        return {r: (v if (v := row.get(r)) is not None else self.quota_defaults[r])
                for r in QUOTA_RESOURCES}

    def _add_amphora(self, lb: LoadBalancer, role: str, i: int) -> Amphora:
        rng = self.rng
        n = len(self.amphorae) + 1
        amp = Amphora(
            id=self.new_uuid(),
            loadbalancer_id=lb.id,
            compute_id=self.new_uuid(),
            lb_network_ip=f"192.0.{(n >> 8) & 255}.{n & 255}",
            vrrp_ip=f"10.{128 + ((n >> 16) & 127)}.{(n >> 8) & 255}.{n & 255}",
            ha_ip=lb.vip_address,
            vrrp_port_id=self.new_uuid(),
            ha_port_id=lb.vip_port_id,
            cert_expiration=self._cert_base() + rng.randint(1 * DAY, 400 * DAY),
            role=role,
            status=ALLOCATED,
            created_at=lb.created_at,
            updated_at=lb.created_at,
            image_id=_IMAGE_ID,
            compute_flavor=_FLAVOR_ID,
            vrrp_interface="eth1" if role != STANDALONE else None,
            vrrp_id=1 if role != STANDALONE else None,
            vrrp_priority=(100 if role == MASTER else 90) if role != STANDALONE else None,
        )
        self._add("amphorae", amp)
        lb.amphora_ids.append(amp.id)
        return amp

    def _cert_base(self) -> int:
        return self.cert_base if self.cert_base is not None else self.clock

    def add_spare_amphora(self) -> Amphora:
        n = len(self.amphorae) + 1
        amp = Amphora(
            id=self.new_uuid(), loadbalancer_id=None, compute_id=self.new_uuid(),
            lb_network_ip=f"192.0.{(n >> 8) & 255}.{n & 255}", vrrp_ip=None, ha_ip=None,
            vrrp_port_id=None, ha_port_id=None,
            cert_expiration=self._cert_base() + self.rng.randint(1 * DAY, 400 * DAY), role=None,
            status=READY, created_at=self.clock, updated_at=self.clock, image_id=_IMAGE_ID,
            compute_flavor=_FLAVOR_ID,
        )
        self._add("amphorae", amp)
        return amp

    def _add_healthmonitor(self, pool: Pool, n: int) -> HealthMonitor:
        http = pool.protocol in ("HTTP", "HTTPS")
        hm_type = {"HTTP": "HTTP", "HTTPS": "HTTPS", "TCP": "TCP", "UDP": "UDP-CONNECT"}.get(
            pool.protocol, "TCP")
        hm = HealthMonitor(
            id=self.new_uuid(),
            project_id=pool.project_id,
            pool_id=pool.id,
            name=f"hm-{n}" if n % 9 else "",
            type=hm_type,
            provisioning_status=ACTIVE,
            operating_status=ONLINE,
            admin_state_up=True,
            created_at=pool.created_at,
            updated_at=None,
            http_method="GET" if http else None,
            url_path="/healthz" if http else None,
            expected_codes="200" if http else None,
        )
        self._add("healthmonitors", hm)
        pool.healthmonitor_id = hm.id
        return hm

    def _add_member(self, pool: Pool, n: int, j: int) -> Member:
        m = len(self.members) + 1
        member = Member(
            id=self.new_uuid(),
            project_id=pool.project_id,
            pool_id=pool.id,
            name=f"member-{n}-{j}" if (n + j) % 10 else "",
            provisioning_status=ACTIVE,
            operating_status=self.member_ok_status(pool),
            admin_state_up=True,
            address=f"172.{16 + ((m >> 16) & 15)}.{(m >> 8) & 255}.{m & 255}",
            protocol_port={"HTTP": 80, "HTTPS": 443, "TCP": 8080, "UDP": 53}.get(pool.protocol, 80),
            created_at=pool.created_at,
            updated_at=None,
            subnet_id=_MEMBER_SUBNET_ID,
            weight=1 + (j % 3),
            backup=False,
        )
        self._add("members", member)
        pool.member_ids.append(member.id)
        return member

    def _add_stats_rows(self, lb: LoadBalancer, listener: Listener) -> None:
        rng = self.rng
        rows: dict[str, StatsRow] = {}
        amp_ids = lb.amphora_ids or [listener.id]
        for i, amp_id in enumerate(amp_ids):
            primary = i == 0
            total = rng.randint(1000, 1_000_000) if primary else rng.randint(0, 50)
            rows[amp_id] = StatsRow(
                listener_id=listener.id,
                amphora_id=amp_id,
                bytes_in=total * rng.randint(200, 800),
                bytes_out=total * rng.randint(800, 4000),
                active_connections=rng.randint(0, 200) if primary else 0,
                total_connections=total,
                request_errors=rng.randint(0, total // 100 + 1),
            )
        self.stats[listener.id] = rows

    # ----- deletion -------------------------------------------------------------------------
    def delete_lb(self, lb_id: str) -> None:
        """Cascade-delete a load balancer; its amphorae stay listed as DELETED, as in Octavia
        until housekeeping purges them."""
        lb = self.loadbalancers[lb_id]
        for listener_id in list(lb.listener_ids):
            listener = self.listeners[listener_id]
            for policy_id in listener.l7policy_ids:
                for rule_id in self.l7policies[policy_id].rule_ids:
                    if rule_id in self.l7rules:
                        self._remove("l7rules", self.l7rules[rule_id])
                self._remove("l7policies", self.l7policies[policy_id])
            self.stats.pop(listener_id, None)
            self._remove("listeners", listener)
        for pool_id in list(lb.pool_ids):
            pool = self.pools[pool_id]
            for member_id in pool.member_ids:
                self._remove("members", self.members[member_id])
            if pool.healthmonitor_id and pool.healthmonitor_id in self.healthmonitors:
                self._remove("healthmonitors", self.healthmonitors[pool.healthmonitor_id])
            self._remove("pools", pool)
        replacement = self.failovers.pop(lb_id, ("", ""))[1]
        for amp_id in [*lb.amphora_ids, *([replacement] if replacement else [])]:
            amp = self.amphorae[amp_id]
            amp.status = DELETED
            amp.updated_at = self.clock
        # deleting the VIP port disassociates its floating IPs (Neutron keeps them, DOWN)
        for fip_id in list(self.fips_by_port.get(lb.vip_port_id, [])):
            self.attach_floatingip(self.floatingips[fip_id], None)
        self._remove("loadbalancers", lb)
        self.transitions.pop(lb_id, None)

    # ----- floating IPs (Neutron) -----------------------------------------------------------
    @staticmethod
    def fip_key(fip: FloatingIP) -> SortKey:
        """Neutron lists by id: the index key ignores the creation time."""
        return (0, fip.id)

    def router_id(self, project_id: str) -> str:
        """The project's router between its VIP subnet and the public network (stable)."""
        return str(uuid.uuid5(_ROUTER_NAMESPACE, project_id))

    def lb_of_fip(self, fip: FloatingIP) -> LoadBalancer | None:
        if fip.port_id is None:
            return None
        lb_id = self.lb_by_port.get(fip.port_id)
        return self.loadbalancers.get(lb_id) if lb_id else None

    def _next_fip_address(self) -> str:
        self._fip_serial += 1
        n = self._fip_serial
        # 172.24.4.0/22 and up (devstack's public range), skipping .0, .1 and .255
        return f"172.{24 + (n // 62500) % 8}.{4 + (n // 250) % 250}.{2 + n % 250}"

    def add_floatingip(self, project_id: str, lb: LoadBalancer | None = None,
                       created_at: int | None = None, description: str = "",
                       tags: list[str] | None = None, floating_ip_address: str | None = None,
                       dns_name: str = "", dns_domain: str = "") -> FloatingIP:
        """Allocate a floating IP, attached to ``lb``'s VIP port when one is given."""
        now = self.clock if created_at is None else created_at
        fip = FloatingIP(
            id=str(uuid.UUID(int=self.net_rng.getrandbits(128), version=4)),
            project_id=project_id,
            floating_ip_address=floating_ip_address or self._next_fip_address(),
            floating_network_id=PUBLIC_NETWORK_ID,
            status=FIP_DOWN,
            created_at=now,
            updated_at=now,
            description=description,
            tags=list(tags or []),
            dns_name=dns_name,
            dns_domain=dns_domain,
        )
        self.floatingips[fip.id] = fip
        key = self.fip_key(fip)
        self.fip_index.add(key)
        self.fip_project_index.setdefault(project_id, SortedIndex()).add(key)
        self.free_fips.setdefault(project_id, SortedIndex()).add(key)
        if lb is not None:
            self.attach_floatingip(fip, lb, bump=False)
        return fip

    def attach_floatingip(self, fip: FloatingIP, lb: LoadBalancer | None,
                          bump: bool = True) -> None:
        """Associate a floating IP with ``lb``'s VIP port (ACTIVE), or disassociate it (None:
        DOWN). Stamps ``updated_at`` and the revision number unless ``bump`` is False."""
        key = self.fip_key(fip)
        if fip.port_id is not None:
            attached = self.fips_by_port.get(fip.port_id, [])
            if fip.id in attached:
                attached.remove(fip.id)
            if not attached:
                self.fips_by_port.pop(fip.port_id, None)
        else:
            free = self.free_fips.get(fip.project_id)
            if free is not None:
                free.remove(key)
        if lb is None:
            fip.port_id = None
            fip.fixed_ip_address = None
            fip.router_id = None
            fip.status = FIP_DOWN
            self.free_fips.setdefault(fip.project_id, SortedIndex()).add(key)
        else:
            fip.port_id = lb.vip_port_id
            fip.fixed_ip_address = lb.vip_address
            fip.router_id = self.router_id(lb.project_id)
            fip.status = FIP_ACTIVE
            self.fips_by_port.setdefault(lb.vip_port_id, []).append(fip.id)
        if bump:
            fip.updated_at = max(self.clock, fip.updated_at)
            fip.revision_number += 1

    def delete_floatingip(self, fip_id: str) -> None:
        fip = self.floatingips[fip_id]
        if fip.port_id is not None:
            self.attach_floatingip(fip, None, bump=False)
        key = self.fip_key(fip)
        free = self.free_fips.get(fip.project_id)
        if free is not None:
            free.remove(key)
        project_index = self.fip_project_index.get(fip.project_id)
        if project_index is not None:
            project_index.remove(key)
        self.fip_index.remove(key)
        del self.floatingips[fip_id]

    def sync_vip_address(self, lb: LoadBalancer) -> None:
        """A changed VIP address moves the fixed IP of the floating IPs on the VIP port."""
        for fip_id in self.fips_by_port.get(lb.vip_port_id, []):
            self.floatingips[fip_id].fixed_ip_address = lb.vip_address

    # ----- amphora failover ------------------------------------------------------------------
    def start_failover(self, lb: LoadBalancer, rng: random.Random) -> Amphora | None:
        """Octavia's failover: the load balancer goes PENDING_UPDATE, a replacement amphora
        boots and the old one is PENDING_DELETE until the flow ends (`finish_failover`).
        Draws from ``rng``, not the fleet's, so a seed's other changes stay as they were."""
        old = next((self.amphorae[a] for a in lb.amphora_ids
                    if self.amphorae[a].status == ALLOCATED), None)
        if old is None or lb.id in self.failovers:
            return None
        n = len(self.amphorae) + 1
        new = Amphora(
            id=str(uuid.UUID(int=rng.getrandbits(128), version=4)), loadbalancer_id=lb.id,
            compute_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            lb_network_ip=f"192.0.{(n >> 8) & 255}.{n & 255}", vrrp_ip=old.vrrp_ip,
            ha_ip=old.ha_ip, vrrp_port_id=old.vrrp_port_id, ha_port_id=old.ha_port_id,
            cert_expiration=self.clock + 365 * DAY, role=old.role, status=BOOTING,
            created_at=self.clock, updated_at=self.clock, image_id=old.image_id,
            compute_flavor=old.compute_flavor, vrrp_interface=old.vrrp_interface,
            vrrp_id=old.vrrp_id, vrrp_priority=old.vrrp_priority, cached_zone=old.cached_zone,
        )
        self._add("amphorae", new)
        old.status = PENDING_DELETE
        old.updated_at = self.clock
        lb.provisioning_status = PENDING_UPDATE
        lb.updated_at = self.clock
        self.failovers[lb.id] = (old.id, new.id)
        return new

    def finish_failover(self, lb_id: str) -> None:
        old_id, new_id = self.failovers.pop(lb_id)
        old, new = self.amphorae.get(old_id), self.amphorae.get(new_id)
        lb = self.loadbalancers.get(lb_id)
        if old is not None:
            old.status = DELETED
            old.updated_at = self.clock
        if new is not None and lb is not None:
            new.status = ALLOCATED
            new.updated_at = self.clock
            lb.amphora_ids = [new_id if a == old_id else a for a in lb.amphora_ids]
        if lb is not None and lb.provisioning_status == PENDING_UPDATE:
            lb.provisioning_status = ACTIVE
            lb.updated_at = self.clock

    # ----- counts ---------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {kind: len(self.table(kind)) for kind in KINDS} | {
            "floatingips": len(self.floatingips),
            "projects": len(self.projects),
        }


# Enabled provider drivers and their descriptions, as octavia.api.drivers lists them.
PROVIDERS = {
    "amphora": "The Octavia Amphora driver.",
    "octavia": "Deprecated alias of the Octavia Amphora driver.",
    "ovn": "Octavia OVN driver.",
}

_SUBNET_ID = "3b1c0f5e-6a4d-4a77-9d5f-0b9a2f1c5e01"
_NETWORK_ID = "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c02"
_MEMBER_SUBNET_ID = "5d6e7f80-91a2-4b3c-9d4e-5f6a7b8c9d03"
_IMAGE_ID = "0f1e2d3c-4b5a-4697-8877-665544332204"
_FLAVOR_ID = "65c3b0e1-7d4f-4e2a-9b8c-1d2e3f4a5b05"
PUBLIC_NETWORK_ID = "b4d5e6f7-0819-4a2b-8c3d-4e5f60718206"
_ROUTER_NAMESPACE = uuid.UUID("9c0d1e2f-3a4b-4c5d-8e6f-708192a3b407")

_ODD_NAMES = (
    'lb "quoted" {n}',
    "o'brien-lb-{n}",
    "lb-ünïcødé-{n}-✓",
    "负载均衡-{n}",
    "lb with spaces {n}",
    "lb\\backslash-{n}",
)


def _lb_name(n: int, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.03:
        return ""
    if roll < 0.08:
        return _ODD_NAMES[n % len(_ODD_NAMES)].format(n=n)
    return f"lb-{n:05d}"


def generate(spec: FleetSpec, project_ids: Iterable[tuple[str, str]] = ()) -> Fleet:
    """Generate a fleet from a spec. ``project_ids`` are (name, id) pairs that must exist
    (keystone's projects); the rest of ``spec.projects`` are made up."""
    rng = random.Random(spec.seed)
    start = int(spec.start_time if spec.start_time is not None else time.time())
    # objects were created over the past 30 days, oldest first
    fleet = Fleet(clock=start - 30 * DAY, rng=rng)
    fleet.cert_base = start
    for name, pid in project_ids:
        fleet.add_project(name, pid)
    existing = [p for p in fleet.projects.values() if p.name not in ("admin", "service")]
    for i in range(max(0, spec.projects - len(existing))):
        fleet.add_project(f"tenant-{i + 1:02d}")
    step = max(1, (30 * DAY) // max(1, spec.lbs))
    # In fleets of 8 or more, load balancers 2..8 show one special case each (when its share
    # is not zero), so that even a small demo fleet has every case; the rest is left to chance.
    forced: dict[int, str] = {}
    if spec.lbs >= 8:
        cases = [
            ("no_listener", spec.no_listener_share), ("unattached_pool",
                                                      spec.unattached_pool_share),
            ("l7policy", spec.l7policy_share), ("degraded", spec.degraded_share),
            ("error", spec.error_share), ("pending", spec.pending_share),
            ("no_healthmonitor", 1.0 - spec.healthmonitor_share),
        ]
        forced = {2 + i: case for i, (case, share) in enumerate(cases) if share > 0}
    for n in range(1, spec.lbs + 1):
        fleet.clock += rng.randint(0, step) if n > 1 else 0
        case = forced.get(n)
        shape = LBShape(
            listeners=spec.listeners_per_lb,
            pools=spec.pools_per_lb,
            members_per_pool=spec.members_per_pool,
            member_jitter=True,
            healthmonitor=rng.random() < spec.healthmonitor_share,
            amphorae=spec.amphorae_per_lb,
            l7policy=rng.random() < spec.l7policy_share or case == "l7policy",
        )
        if case == "no_healthmonitor":
            shape.healthmonitor = False
        elif case is not None:
            shape.healthmonitor = shape.healthmonitor or spec.healthmonitor_share > 0
        if rng.random() < spec.no_listener_share or case == "no_listener":
            shape.listeners = 0
        if rng.random() < spec.unattached_pool_share or case == "unattached_pool":
            shape.pools = max(shape.pools, shape.listeners) + 1
        if shape.l7policy:
            shape.listeners = max(1, shape.listeners)
        fleet._counter = n
        lb = fleet.create_lb_tree(shape, serial=n)
        _decorate(fleet, lb, spec, rng, case)
    for _ in range(spec.spare_amphorae):
        fleet.add_spare_amphora()
    fleet.clock = start
    fleet.cert_base = None
    _add_floatingips(fleet, spec, start)
    _add_offerings_and_quotas(fleet, spec)
    fleet.start_stamping()
    return fleet


def _add_floatingips(fleet: Fleet, spec: FleetSpec, start: int) -> None:
    """Floating IPs on the VIP ports: ~``floatingip_share`` of the load balancers get one,
    ~``two_floatingip_share`` two, the rest none; plus ``unattached_floatingip_share`` * lbs
    unattached (DOWN) ones. In fleets of 8 or more, load balancers 1, 2 and 3 have one, two
    and no floating IP, and at least one is unattached (when those shares are not zero)."""
    rng = random.Random(spec.seed * 1_000_003 + 0xF1)
    fleet.net_rng = rng
    lbs = [fleet.loadbalancers[i] for i in fleet.index["loadbalancers"].ids()]
    forced = spec.lbs >= 8 and len(lbs) >= 3
    for pos, lb in enumerate(lbs):
        roll = rng.random()
        count = 2 if roll < spec.two_floatingip_share else (
            1 if roll < spec.two_floatingip_share + spec.floatingip_share else 0)
        if forced and pos < 3:
            wanted = {0: (1, spec.floatingip_share), 1: (2, spec.two_floatingip_share),
                      2: (0, 1.0 - spec.floatingip_share - spec.two_floatingip_share)}[pos]
            if wanted[1] > 0:
                count = wanted[0]
        for j in range(count):
            created = min(start, lb.created_at + rng.randint(30, 900))
            in_dns = rng.random() < 0.1
            fip = fleet.add_floatingip(
                lb.project_id, lb, created_at=created,
                description="" if j or rng.random() < 0.8 else f"VIP of {lb.name}"[:255],
                dns_name=f"lb-{pos + 1}-{j}" if in_dns else "",
                dns_domain="sim.example.org." if in_dns else "",
            )
            fip.revision_number = 1 + rng.randint(0, 2)
            fip.updated_at = created
    scoped = [p.id for p in fleet.projects.values() if p.name not in ("admin", "service")]
    unattached = round(spec.lbs * spec.unattached_floatingip_share)
    if forced and spec.unattached_floatingip_share > 0:
        unattached = max(1, unattached)
    for i in range(unattached):
        project_id = scoped[i % len(scoped)] if scoped else fleet.new_hex()
        created = start - rng.randint(60, 30 * DAY)
        fleet.add_floatingip(project_id, None, created_at=created)


def _decorate(fleet: Fleet, lb: LoadBalancer, spec: FleetSpec, rng: random.Random,
              case: str | None = None) -> None:
    """Put a share of the generated load balancers into interesting states."""
    roll = rng.random()
    if case == "error":
        roll = 0.0
    elif case == "degraded":
        roll = spec.error_share
    elif case == "pending":
        roll = spec.error_share + spec.degraded_share
    elif case is not None:
        roll = 1.0
    if roll < spec.error_share:
        lb.provisioning_status = ERROR
        lb.operating_status = ERROR
        return
    roll -= spec.error_share
    if roll < spec.degraded_share:
        members = [m for p in lb.pool_ids for m in fleet.pools[p].member_ids]
        if members:
            for member_id in rng.sample(members, max(1, len(members) // 4)):
                fleet.members[member_id].operating_status = ERROR
            fleet.rollup(lb)
        return
    roll -= spec.degraded_share
    if roll < spec.pending_share:
        status = (PENDING_CREATE, PENDING_UPDATE, PENDING_DELETE)[rng.randrange(3)]
        lb.provisioning_status = status
        if status == PENDING_CREATE:
            lb.operating_status = OFFLINE
        fleet.transitions[lb.id] = status
        return
    roll -= spec.pending_share
    if roll < spec.admin_down_share:
        lb.admin_state_up = False
        fleet.rollup(lb)


# ----- issue 14: flavors, zones, L7 objects, failovers, quotas ---------------------------------
def _sim_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _add_offerings_and_quotas(fleet: Fleet, spec: FleetSpec) -> None:
    """What a capacity planner and the quota views need, from an RNG of its own (the rest of a
    seed's fleet is what it was before): three flavors (one disabled, with a load balancer still
    on it), three zones (one disabled), connection limits on a share of the listeners, more L7
    policies and rules with one of each in ERROR, one load balancer in amphora failover, and
    quota rows for every project with objects (as Octavia's quota check makes them) with one
    limit at 100 % and one at 90-99 %."""
    rng = random.Random(spec.seed * 7919 + 14)
    profiles = [
        FlavorProfile(_sim_uuid(rng), "amphora-single", "amphora",
                      '{"loadbalancer_topology": "SINGLE"}'),
        FlavorProfile(_sim_uuid(rng), "amphora-ha", "amphora",
                      '{"loadbalancer_topology": "ACTIVE_STANDBY"}'),
    ]
    fleet.flavor_profiles = {fp.id: fp for fp in profiles}
    flavors = [
        Flavor(_sim_uuid(rng), "small", "Single amphora", True, profiles[0].id),
        Flavor(_sim_uuid(rng), "ha", "Active/standby amphorae", True, profiles[1].id),
        Flavor(_sim_uuid(rng), "legacy", "Retired: do not use", False, profiles[0].id),
    ]
    fleet.flavors = {f.id: f for f in flavors}
    az_profile = AvailabilityZoneProfile(_sim_uuid(rng), "nova-zones", "amphora",
                                         '{"compute_zone": "nova"}')
    fleet.az_profiles = {az_profile.id: az_profile}
    fleet.availability_zones = {
        z.name: z for z in (
            AvailabilityZone("az-1", "Rack row 1", True, az_profile.id),
            AvailabilityZone("az-2", "Rack row 2", True, az_profile.id),
            AvailabilityZone("az-old", "Being drained", False, az_profile.id),
        )
    }
    lbs = [fleet.loadbalancers[i] for i in fleet.index["loadbalancers"].ids()]
    for lb in lbs:
        if lb.provider == "amphora":
            # created through the deprecated "octavia" alias: Octavia keeps the name asked for
            if rng.random() < 0.25:
                lb.provider = "octavia"
            lb.flavor_id = flavors[0 if len(lb.amphora_ids) == 1 else 1].id \
                if rng.random() < 0.8 else None
            lb.availability_zone = ("az-1", "az-2")[rng.randrange(2)] \
                if rng.random() < 0.8 else None
    stable = [lb for lb in lbs if lb.provisioning_status == ACTIVE and lb.id not in
              fleet.transitions and lb.amphora_ids]
    if stable:
        stable[0].flavor_id = flavors[2].id
    for listener_id in fleet.index["listeners"].ids():
        if rng.random() < 0.25:
            fleet.listeners[listener_id].connection_limit = (100, 1000, 5000)[rng.randrange(3)]
    _add_l7(fleet, rng, lbs)
    if len(stable) > 1 and len(stable[1].amphora_ids) >= 1:
        fleet.start_failover(stable[1], rng)
    _add_quotas(fleet, rng)


def _add_l7(fleet: Fleet, rng: random.Random, lbs: list[LoadBalancer]) -> None:
    added: list[L7Policy] = []
    for lb in lbs:
        http = [fleet.listeners[i] for i in lb.listener_ids
                if fleet.listeners[i].protocol == "HTTP"]
        if not http or rng.random() >= 0.3:
            continue
        listener = http[0]
        reject = rng.random() < 0.5
        policy = L7Policy(
            id=_sim_uuid(rng), project_id=lb.project_id, listener_id=listener.id,
            name=f"{lb.name or 'lb'}-{'deny-admin' if reject else 'to-https'}", description="",
            provisioning_status=ACTIVE, operating_status=ONLINE, admin_state_up=True,
            action="REJECT" if reject else "REDIRECT_TO_URL",
            position=len(listener.l7policy_ids) + 1, created_at=lb.created_at, updated_at=None,
            redirect_url=None if reject else "https://www.example.com/",
            redirect_http_code=None if reject else 301,
        )
        fleet._add("l7policies", policy)
        listener.l7policy_ids.append(policy.id)
        if reject:
            fleet.add_l7rule(policy, "PATH", "STARTS_WITH", "/admin", rule_id=_sim_uuid(rng))
            fleet.add_l7rule(policy, "COOKIE", "EQUAL_TO", "s3cr3t-session", key="session",
                             invert=True, rule_id=_sim_uuid(rng))
        else:
            fleet.add_l7rule(policy, "HEADER", "EQUAL_TO", "http", key="X-Forwarded-Proto",
                             rule_id=_sim_uuid(rng))
        added.append(policy)
    if added:
        added[0].provisioning_status = ERROR
        added[0].operating_status = ERROR
        bad_rule = fleet.l7rules[added[-1].rule_ids[-1]]
        bad_rule.provisioning_status = ERROR
        bad_rule.operating_status = ERROR


SCANNER_PATHS = ("/wp-admin", "/.env", "/phpmyadmin", "/cgi-bin", "/.git", "/xmlrpc.php",
                 "/server-status", "/actuator", "/vendor/phpunit")


def _add_scanner_blocks(fleet: Fleet, rng: random.Random, project: str) -> None:
    """One REJECT policy per scanner path on one HTTP listener of ``project``: enough L7
    policies for a quota 90-99 % used on a resource the end-to-end trees never add to."""
    listener = next((fleet.listeners[i] for lb_id in fleet.index["loadbalancers"].ids()
                     for lb in [fleet.loadbalancers[lb_id]]
                     if lb.project_id == project and lb.provisioning_status == ACTIVE
                     for i in lb.listener_ids if fleet.listeners[i].protocol == "HTTP"), None)
    if listener is None:
        return
    for path in SCANNER_PATHS:
        policy = L7Policy(
            id=_sim_uuid(rng), project_id=project, listener_id=listener.id,
            name=f"block{path.replace('/', '-')}", description="Scanner noise",
            provisioning_status=ACTIVE, operating_status=ONLINE, admin_state_up=True,
            action="REJECT", position=len(listener.l7policy_ids) + 1,
            created_at=listener.created_at, updated_at=None)
        fleet._add("l7policies", policy)
        listener.l7policy_ids.append(policy.id)
        fleet.add_l7rule(policy, "PATH", "STARTS_WITH", path, rule_id=_sim_uuid(rng))


def _add_quotas(fleet: Fleet, rng: random.Random) -> None:
    lb_counts: dict[str, int] = {}
    for lb in fleet.loadbalancers.values():
        lb_counts[lb.project_id] = lb_counts.get(lb.project_id, 0) + 1
    ranked = sorted(lb_counts, key=lambda p: -lb_counts[p])
    if len(ranked) > 1:
        _add_scanner_blocks(fleet, rng, ranked[1])
    usage: dict[str, dict[str, int]] = {}

    def count(project: str, resource: str, n: int = 1) -> None:
        usage.setdefault(project, dict.fromkeys(QUOTA_RESOURCES, 0))[resource] += n

    for lb in fleet.loadbalancers.values():
        count(lb.project_id, "loadbalancer")
    for listener in fleet.listeners.values():
        count(listener.project_id, "listener")
    for pool in fleet.pools.values():
        count(pool.project_id, "pool")
        count(pool.project_id, "member", len(pool.member_ids))
    for hm in fleet.healthmonitors.values():
        count(hm.project_id, "healthmonitor")
    for policy in fleet.l7policies.values():
        count(policy.project_id, "l7policy")
        count(policy.project_id, "l7rule", len(policy.rule_ids))
    fleet.quotas = {project: dict.fromkeys(QUOTA_RESOURCES, None) for project in usage}
    projects = sorted(usage, key=lambda p: -usage[p]["loadbalancer"])
    if projects:
        # full: the next load balancer this project creates is refused
        fleet.quotas[projects[0]]["loadbalancer"] = usage[projects[0]]["loadbalancer"]
        fleet.quotas[projects[0]]["listener"] = -1
    if len(projects) > 1:
        # 90-99 % used, on L7 policies: what the end-to-end scenario adds has none
        policies = usage[projects[1]]["l7policy"]
        fleet.quotas[projects[1]]["l7policy"] = max(policies + 1, -(-policies * 100 // 95))
        fleet.quotas[projects[1]]["pool"] = usage[projects[1]]["pool"] * 4 + 10
    if len(projects) > 2:
        fleet.quotas[projects[2]]["l7policy"] = 50

