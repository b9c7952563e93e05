"""The fleet as seen by one poll cycle: plain frozen dataclasses.

A snapshot is built once per cycle and never mutated afterwards, so the collector and the event
differ can read it from any thread without locks. Objects are keyed by id; an object missing from
a newer snapshot has been deleted and simply is not there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from exporter.model.capabilities import Capabilities


@dataclass(frozen=True, slots=True)
class Stats:
    bytes_in: int = 0
    bytes_out: int = 0
    active_connections: int = 0
    total_connections: int = 0
    request_errors: int = 0

    def __add__(self, other: Stats) -> Stats:
        return Stats(
            self.bytes_in + other.bytes_in,
            self.bytes_out + other.bytes_out,
            self.active_connections + other.active_connections,
            self.total_connections + other.total_connections,
            self.request_errors + other.request_errors,
        )


@dataclass(frozen=True, slots=True)
class LoadBalancer:
    id: str
    name: str
    project_id: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    vip_address: str = ""
    vip_port_id: str = ""
    vip_network_id: str = ""
    vip_subnet_id: str = ""
    provider: str = ""
    flavor_id: str = ""
    availability_zone: str = ""
    created_at: float | None = None
    updated_at: float | None = None
    listener_ids: tuple[str, ...] = ()
    pool_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Listener:
    id: str
    name: str
    project_id: str
    loadbalancer_id: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    protocol: str = ""
    protocol_port: int | None = None
    default_pool_id: str = ""
    connection_limit: int = -1


@dataclass(frozen=True, slots=True)
class Pool:
    id: str
    name: str
    project_id: str
    loadbalancer_id: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    protocol: str = ""
    lb_algorithm: str = ""
    healthmonitor_id: str = ""
    listener_ids: tuple[str, ...] = ()
    member_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Member:
    id: str
    name: str
    project_id: str
    pool_id: str
    loadbalancer_id: str
    provisioning_status: str
    operating_status: str
    address: str = ""
    protocol_port: int | None = None
    # Only from the per-pool member list (--member-details, or pools no listener uses); the
    # status tree does not carry them.
    weight: int | None = None
    admin_state_up: bool | None = None
    backup: bool | None = None


@dataclass(frozen=True, slots=True)
class HealthMonitor:
    id: str
    name: str
    project_id: str
    pool_id: str
    loadbalancer_id: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    monitor_type: str = ""


@dataclass(frozen=True, slots=True)
class Amphora:
    id: str
    loadbalancer_id: str
    status: str
    project_id: str = ""
    compute_id: str = ""
    role: str = ""
    lb_network_ip: str = ""
    vrrp_ip: str = ""
    ha_ip: str = ""
    image_id: str = ""
    compute_flavor: str = ""
    cached_zone: str = ""
    cert_expiration: float | None = None
    created_at: float | None = None


@dataclass(frozen=True, slots=True)
class FloatingIP:
    """A Neutron floating IP attached to a load balancer's VIP port."""

    id: str
    address: str
    loadbalancer_id: str
    status: str
    port_id: str = ""
    network_id: str = ""
    project_id: str = ""


@dataclass(frozen=True, slots=True)
class L7Policy:
    """An L7 policy from the bulk policy list; its load balancer is its listener's."""

    id: str
    name: str
    project_id: str
    listener_id: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    action: str = ""
    position: int | None = None
    redirect_pool_id: str = ""
    redirect_url: str = ""
    redirect_prefix: str = ""
    updated_at: float | None = None
    rule_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class L7Rule:
    """An L7 rule from its policy's rule list. The rule's `value` is never kept: it can be a
    cookie or header secret (docs/metrics.md)."""

    id: str
    l7policy_id: str
    listener_id: str
    project_id: str
    provisioning_status: str
    operating_status: str
    admin_state_up: bool
    rule_type: str = ""
    compare_type: str = ""
    key: str = ""
    invert: bool = False


@dataclass(frozen=True, slots=True)
class Flavor:
    id: str
    name: str
    enabled: bool
    flavor_profile_id: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class AvailabilityZone:
    name: str
    enabled: bool
    availability_zone_profile_id: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class FleetSnapshot:
    """One consistent view of one cloud's fleet."""

    cloud: str
    taken_at: float
    loadbalancers: Mapping[str, LoadBalancer] = field(default_factory=dict)
    listeners: Mapping[str, Listener] = field(default_factory=dict)
    pools: Mapping[str, Pool] = field(default_factory=dict)
    members: Mapping[str, Member] = field(default_factory=dict)
    healthmonitors: Mapping[str, HealthMonitor] = field(default_factory=dict)
    amphorae: Mapping[str, Amphora] = field(default_factory=dict)
    loadbalancer_stats: Mapping[str, Stats] = field(default_factory=dict)
    listener_stats: Mapping[str, Stats] = field(default_factory=dict)
    # Keyed by (amphora_id, listener_id): the amphora stats call answers one row per listener.
    amphora_stats: Mapping[tuple[str, str], Stats] = field(default_factory=dict)
    floating_ips: Mapping[str, FloatingIP] = field(default_factory=dict)
    # When each load balancer's detail (members, stats) was read, wall time: the oldest of its
    # parts. Absent until the first read.
    detail_read_at: Mapping[str, float] = field(default_factory=dict)
    # Read by exporter/octavia/inventory.py: L7 objects, the cloud's offerings and quotas.
    l7policies: Mapping[str, L7Policy] = field(default_factory=dict)
    l7rules: Mapping[str, L7Rule] = field(default_factory=dict)
    flavors: Mapping[str, Flavor] = field(default_factory=dict)
    availability_zones: Mapping[str, AvailabilityZone] = field(default_factory=dict)
    providers: Mapping[str, Provider] = field(default_factory=dict)
    # project id -> resource -> limit (-1: unlimited), Octavia's defaults filled in
    quota_limits: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    quota_defaults: Mapping[str, int] = field(default_factory=dict)
    project_names: Mapping[str, str] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {
            "loadbalancer": len(self.loadbalancers),
            "listener": len(self.listeners),
            "pool": len(self.pools),
            "member": len(self.members),
            "healthmonitor": len(self.healthmonitors),
            "amphora": len(self.amphorae),
            "floating_ip": len(self.floating_ips),
            "l7policy": len(self.l7policies),
            "l7rule": len(self.l7rules),
        }


@dataclass(frozen=True, slots=True)
class CloudHealth:
    """How polling one cloud is going; changes once per cycle, like the snapshot."""

    cloud: str
    up: bool = False
    interval: float = 0.0
    cycles_completed: int = 0
    last_cycle_duration: float = 0.0
    last_cycle_end: float = 0.0
    last_success: float = 0.0
    # True when the fleet data is older than --max-staleness and has been withdrawn.
    stale_withdrawn: bool = False


@dataclass(frozen=True, slots=True)
class CloudView:
    """What the collector renders for one cloud: the last good snapshot, polling health, and
    what the cloud lets us collect (its one capabilities record, not a copy)."""

    health: CloudHealth
    snapshot: FleetSnapshot | None
    capabilities: Capabilities = field(default_factory=Capabilities)
