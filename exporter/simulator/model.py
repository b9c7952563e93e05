"""The simulated cloud's data: Octavia's objects as its database rows hold them, Neutron's
floating IPs, statistics rows, and the specs that shape a generated fleet.

Plain data, no behaviour: the store (store.py) indexes these, the writers change them and
views.py renders them as the API does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

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
    vip_qos_policy_id: str | None = None
    vip_vnic_type: str = "normal"
    vip_sg_ids: list[str] = field(default_factory=list)
    # {"subnet_id", "ip_address", "port_id"}, as Octavia's AdditionalVipsType renders them
    additional_vips: list[dict[str, str]] = field(default_factory=list)


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
    # None: Octavia's defaults for a TERMINATED_HTTPS listener, null for the others
    tls_versions: list[str] | None = None
    alpn_protocols: list[str] | None = None
    hsts_max_age: int | None = None
    hsts_include_subdomains: bool = False
    hsts_preload: bool = False
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
    # None: Octavia's defaults when tls_enabled, null otherwise
    tls_versions: list[str] | None = None
    alpn_protocols: list[str] | None = None
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

# Enabled provider drivers and their descriptions, as octavia.api.drivers lists them.
PROVIDERS = {
    "amphora": "The Octavia Amphora driver.",
    "octavia": "Deprecated alias of the Octavia Amphora driver.",
    "ovn": "Octavia OVN driver.",
}

SUBNET_ID = "3b1c0f5e-6a4d-4a77-9d5f-0b9a2f1c5e01"
NETWORK_ID = "8a9b0c1d-2e3f-4a5b-8c6d-7e8f9a0b1c02"
MEMBER_SUBNET_ID = "5d6e7f80-91a2-4b3c-9d4e-5f6a7b8c9d03"
IMAGE_ID = "0f1e2d3c-4b5a-4697-8877-665544332204"
FLAVOR_ID = "65c3b0e1-7d4f-4e2a-9b8c-1d2e3f4a5b05"
PUBLIC_NETWORK_ID = "b4d5e6f7-0819-4a2b-8c3d-4e5f60718206"
# The settings some simulated VIPs have: a QoS policy, security groups, an IPv6 subnet.
QOS_POLICY_ID = "c7d8e9f0-1a2b-4c3d-8e4f-5a6b7c8d9e07"
VIP_SG_IDS = ("d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e508", "e2f3a4b5-c6d7-4e8f-90a1-b2c3d4e5f609")
VIP6_SUBNET_ID = "f3a4b5c6-d7e8-4f90-a1b2-c3d4e5f6a70a"
ROUTER_NAMESPACE = uuid.UUID("9c0d1e2f-3a4b-4c5d-8e6f-708192a3b407")
