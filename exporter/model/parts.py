"""The values that pass between the layers: what a reader found, before it joins a snapshot.

Readers in octavia/ build them, poll/ merges them into snapshots; none of them does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from exporter.model.snapshot import (
    Amphora,
    AvailabilityZone,
    Flavor,
    FloatingIP,
    HealthMonitor,
    L7Policy,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    Provider,
    Stats,
)


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
    # The load balancer answered 404: deleted since it was listed.
    gone: bool = False


@dataclass(frozen=True, slots=True)
class Inventory:
    l7policies: Mapping[str, L7Policy] = field(default_factory=dict)
    flavors: Mapping[str, Flavor] = field(default_factory=dict)
    availability_zones: Mapping[str, AvailabilityZone] = field(default_factory=dict)
    providers: Mapping[str, Provider] = field(default_factory=dict)
    quota_limits: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    quota_defaults: Mapping[str, int] = field(default_factory=dict)
    project_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Subtree:
    """One load balancer and its children, as read by id (the notification refresh)."""

    loadbalancer: LoadBalancer
    listeners: dict[str, Listener]
    pools: dict[str, Pool]
    healthmonitors: dict[str, HealthMonitor]


@dataclass(frozen=True, slots=True)
class Delta:
    """What the changes feed found in one round: the rows of this shard written since the last
    round, parsed, and where each list now stands."""

    loadbalancers: Mapping[str, LoadBalancer] = field(default_factory=dict)
    listeners: Mapping[str, Listener] = field(default_factory=dict)
    pools: Mapping[str, Pool] = field(default_factory=dict)
    healthmonitors: Mapping[str, HealthMonitor] = field(default_factory=dict)
    amphorae: Mapping[str, Amphora] = field(default_factory=dict)
    # Neutron's floating IPs, read whole beside the feed (None: not read).
    floating_ips: Mapping[str, FloatingIP] | None = None
    # The newest updated_at (created_at for "created") each list showed, API time.
    newest: Mapping[str, float] = field(default_factory=dict)
    # Load balancers whose amphora the feed showed DELETED: read again (a 404 removes them;
    # the worker marks the amphorae of a deleted load balancer DELETED, and those stay listed).
    suspect: frozenset[str] = frozenset()
    # Amphorae the feed showed DELETED (a failover's old one, or a deleted load balancer's).
    deleted_amphorae: frozenset[str] = frozenset()
    # False when a list had more changed rows than one round reads: the reconciliation must run.
    complete: bool = True
    requests: int = 0

    @property
    def empty(self) -> bool:
        return not (self.loadbalancers or self.listeners or self.pools or self.healthmonitors
                    or self.amphorae or self.floating_ips is not None or self.suspect
                    or self.deleted_amphorae)


@dataclass(frozen=True, slots=True)
class LoadBalancerEvent:
    """A notification (or the feed) named this load balancer: refresh it."""

    event_type: str  # e.g. octavia.loadbalancer.update.end
    loadbalancer_id: str
    timestamp: float | None  # when Octavia sent it (UTC epoch), if it said

    @property
    def deleted(self) -> bool:
        return self.event_type.endswith(".delete.end")
