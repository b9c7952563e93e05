"""The store of one region's simulated Octavia: its tables by id, the sorted indexes that serve
list pages, and the lookups and sums the API answers from (parents, statistics, quotas).

Objects are kept in dicts by id plus sorted indexes (global and per project) so that list pages
are cheap. Statistics are kept as Octavia keeps them: one row per (listener, amphora); a
listener's stats are the sum of its rows (active connections only from ALLOCATED amphorae, or
from the row whose amphora id is the listener id, which is what non-amphora providers write); a
load balancer's stats are the sum of its listeners'.
"""

from __future__ import annotations

import random
import uuid

from exporter.simulator.index import SortedIndex, SortKey
from exporter.simulator.model import (
    ALLOCATED,
    KINDS,
    PROJECT_SCOPED_KINDS,
    PROVIDERS,
    QUOTA_RESOURCES,
    STAT_FIELDS,
    Amphora,
    AnyObject,
    AvailabilityZone,
    AvailabilityZoneProfile,
    Flavor,
    FlavorProfile,
    FloatingIP,
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    Project,
    StatsRow,
)


class Store:
    """Tables, indexes and lookups; the writers (health.py, network.py, trees.py, fleet.py)
    build on it."""

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
        self.serial = 0
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
        self.serial += 1
        return self.serial

    # ----- add / remove ---------------------------------------------------------------------
    def add_row(self, kind: str, obj: AnyObject) -> None:
        self.table(kind)[obj.id] = obj
        if isinstance(obj, LoadBalancer):
            self.lb_by_port[obj.vip_port_id] = obj.id
        key = self.key(obj)
        self.index[kind].add(key)
        if kind in self.project_index:
            project = self.project_of(kind, obj)
            if project is not None:
                self.project_index[kind].setdefault(project, SortedIndex()).add(key)

    def remove_row(self, kind: str, obj: AnyObject) -> None:
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

    def quota_of(self, project_id: str) -> dict[str, int]:
        """What ``GET /v2/lbaas/quotas/{project_id}`` answers: the project's row with the
        defaults filled in, or the defaults (octavia/api/v2/controllers/base.py)."""
        row = self.quotas.get(project_id, {})
        return {r: (v if (v := row.get(r)) is not None else self.quota_defaults[r])
                for r in QUOTA_RESOURCES}

    def cert_base_time(self) -> int:
        return self.cert_base if self.cert_base is not None else self.clock

    # ----- counts ---------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        return {kind: len(self.table(kind)) for kind in KINDS} | {
            "floatingips": len(self.floatingips),
            "projects": len(self.projects),
        }

