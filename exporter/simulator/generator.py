"""A seeded generator of fleets: the same spec (seed included) always gives the same fleet.

Load balancers created over the 30 days before the start time, a share of them in the states
that matter (ERROR, DEGRADED, PENDING_*, admin down, no listener, an unused pool, no monitor, an
L7 redirect), then floating IPs, flavors, zones, more L7 policies, a failover and quotas, each
from an RNG of its own so that adding one left the others as they were.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterable

from exporter.simulator.fleet import Fleet
from exporter.simulator.model import (
    ACTIVE,
    DAY,
    ERROR,
    OFFLINE,
    ONLINE,
    PENDING_CREATE,
    PENDING_DELETE,
    PENDING_UPDATE,
    QUOTA_RESOURCES,
    AvailabilityZone,
    AvailabilityZoneProfile,
    Flavor,
    FlavorProfile,
    FleetSpec,
    L7Policy,
    LBShape,
    LoadBalancer,
)


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
        fleet.serial = n
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
        fleet.add_row("l7policies", policy)
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
        fleet.add_row("l7policies", policy)
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


