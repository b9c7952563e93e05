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
    # API 2.26-2.29; "" where the API leaves them out or null. Security groups sorted and
    # comma-joined; each additional VIP as (ip_address, subnet_id, port_id).
    vip_qos_policy_id: str = ""
    vip_vnic_type: str = ""
    vip_sg_ids: str = ""
    additional_vips: tuple[tuple[str, str, str], ...] = ()


# A listener's timeouts in the API's milliseconds, in this order; None where the API gives none.
# The first is exported as a gauge, the others as info labels (export/families.py).
TIMEOUTS = ("timeout_client_data", "timeout_member_connect", "timeout_member_data",
            "timeout_tcp_inspect")
NO_TIMEOUTS: tuple[int | None, ...] = (None, None, None, None)
# A health monitor's probe settings, in this order (delay and timeout in seconds, gauges; the
# retries info labels).
PROBE = ("delay", "timeout", "max_retries", "max_retries_down")
NO_PROBE: tuple[int | None, ...] = (None, None, None, None)


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
    # One shared tuple per distinct set of values (parse.compact), in TIMEOUTS order, ms.
    timeouts: tuple[int | None, ...] = NO_TIMEOUTS
    # Lists as one comma-joined string ("" for none): CIDRs sorted, the others in API order.
    allowed_cidrs: str = ""
    tls_versions: str = ""
    alpn_protocols: str = ""
    # HSTS (API 2.27): max-age in seconds, include-subdomains, preload; None where not given.
    hsts: tuple[int | None, bool | None, bool | None] = (None, None, None)


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
    session_persistence: str = ""  # its type; "" for none
    tls_enabled: bool | None = None
    tls_versions: str = ""
    alpn_protocols: str = ""


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
    # (monitor_address, monitor_port) as label text, "" where unset; None when not read.
    monitor: tuple[str, str] | None = None


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
    # One shared tuple per distinct set of values (parse.compact), in PROBE order.
    probe: tuple[int | None, ...] = NO_PROBE
    http_method: str = ""
    url_path: str = ""  # without a query string or fragment
    expected_codes: str = ""


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
