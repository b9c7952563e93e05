"""A small fleet snapshot built by hand, with the awkward cases the renderers must survive."""

from __future__ import annotations

import dataclasses
from typing import Any

from exporter.model.snapshot import (
    Amphora,
    AvailabilityZone,
    CloudHealth,
    CloudView,
    Flavor,
    FleetSnapshot,
    FloatingIP,
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    Provider,
    Stats,
)

# A name every label escape is needed for: quote, backslash, newline, non-ASCII.
NASTY = 'we"b\\1\nzürich ✓'


def snapshot(cloud: str = "c1", extra_member: bool = True) -> FleetSnapshot:
    """One of everything; `extra_member` adds a member in an operating status Octavia has not
    defined (yet)."""
    lb = LoadBalancer("lb1", NASTY, "p1", "ACTIVE", "DEGRADED", True, vip_address="203.0.113.5",
                      created_at=1000.0, listener_ids=("l1",), pool_ids=("pool1",))
    members = {"m1": Member("m1", "a", "p1", "pool1", "lb1", "ACTIVE", "ONLINE", "10.0.0.1", 80)}
    if extra_member:
        members["m2"] = Member("m2", "", "p1", "pool1", "lb1", "ACTIVE", "WEIRD_NEW", "10.0.0.2", 80)
    return FleetSnapshot(
        cloud=cloud, taken_at=1.0,
        loadbalancers={"lb1": lb},
        listeners={"l1": Listener("l1", "http", "p1", "lb1", "ACTIVE", "ONLINE", True, "HTTP",
                                  80, "pool1", 1000)},
        pools={"pool1": Pool("pool1", "", "p1", "lb1", "ACTIVE", "DEGRADED", True, "HTTP",
                             "ROUND_ROBIN", "hm1", ("l1",), tuple(members))},
        members=members,
        healthmonitors={"hm1": HealthMonitor("hm1", "", "p1", "pool1", "lb1", "ACTIVE", "ONLINE",
                                             True, "HTTP")},
        amphorae={"a1": Amphora("a1", "lb1", "ALLOCATED", "p1", role="MASTER",
                                cert_expiration=2e9)},
        loadbalancer_stats={"lb1": Stats(10, 20, 3, 40, 5)},
        listener_stats={"l1": Stats(10, 20, 3, 40, 5)},
    )


def view(snap: FleetSnapshot | None, **health: Any) -> CloudView:
    """`snap` with a healthy cloud's health (override any field by keyword)."""
    cloud = snap.cloud if snap else "c1"
    fields = {"up": True, "cycles_completed": 1, "last_success": 5.0, **health}
    return CloudView(CloudHealth(cloud=cloud, **fields), snap)


def full_snapshot() -> FleetSnapshot:
    """Every mapping of a snapshot non-empty, so that every family has samples."""
    base = snapshot()
    return dataclasses.replace(
        base,
        loadbalancers={"lb1": dataclasses.replace(
            base.loadbalancers["lb1"], vip_qos_policy_id="qos1", vip_vnic_type="normal",
            vip_sg_ids="sg1,sg2", additional_vips=(("2001:db8::5", "subnet6", "port6"),))},
        listeners={"l1": dataclasses.replace(
            base.listeners["l1"], timeouts=(50000, 5000, 50000, 0),
            allowed_cidrs="192.0.2.0/24,198.51.100.0/24", tls_versions="TLSv1.2,TLSv1.3",
            alpn_protocols="h2,http/1.1", hsts=(31536000, True, False))},
        pools={"pool1": dataclasses.replace(
            base.pools["pool1"], session_persistence="APP_COOKIE", tls_enabled=True,
            tls_versions="TLSv1.3", alpn_protocols="h2")},
        members={**base.members, "m1": dataclasses.replace(
            base.members["m1"], weight=2, admin_state_up=True, backup=False,
            monitor=("10.0.1.1", "8081"))},
        healthmonitors={"hm1": dataclasses.replace(
            base.healthmonitors["hm1"], probe=(5, 3, 3, 2), http_method="GET",
            url_path="/healthz", expected_codes="200-204")},
        amphora_stats={("a1", "l1"): Stats(1, 2, 3, 4, 5)},
        floating_ips={"f1": FloatingIP("f1", "198.51.100.7", "lb1", "ACTIVE")},
        detail_read_at={"lb1": 1234.5},
        l7policies={"p1": L7Policy("p1", "pol", "p1", "l1", "ACTIVE", "ONLINE", True,
                                   "REJECT", 1, rule_ids=("r1",))},
        l7rules={"r1": L7Rule("r1", "p1", "l1", "p1", "ACTIVE", "ONLINE", True, "PATH",
                              "STARTS_WITH")},
        flavors={"fl1": Flavor("fl1", "small", True)},
        availability_zones={"az1": AvailabilityZone("az1", True)},
        providers={"amphora": Provider("amphora", "the amphora driver")},
        quota_limits={"p1": {"loadbalancer": 10}},
        quota_defaults={"loadbalancer": 5},
        project_names={"p1": "web"},
    )
