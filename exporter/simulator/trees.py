"""Load balancer trees: creating one whole (amphorae, pools, monitors, members, listeners, an L7
policy), deleting one with its children, and an amphora failover."""

from __future__ import annotations

import random
import uuid

from exporter.simulator.health import Health
from exporter.simulator.model import (
    ACTIVE,
    ALLOCATED,
    BACKUP,
    BOOTING,
    DAY,
    DELETED,
    FLAVOR_ID,
    IMAGE_ID,
    MASTER,
    MEMBER_SUBNET_ID,
    NETWORK_ID,
    ONLINE,
    PENDING_DELETE,
    PENDING_UPDATE,
    QOS_POLICY_ID,
    READY,
    STANDALONE,
    SUBNET_ID,
    VIP6_SUBNET_ID,
    VIP_SG_IDS,
    Amphora,
    HealthMonitor,
    L7Policy,
    L7Rule,
    LBShape,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    StatsRow,
)
from exporter.simulator.network import Network


class Trees(Health, Network):
    """Whole trees in and out of the store."""

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
            vip_subnet_id=SUBNET_ID,
            vip_network_id=NETWORK_ID,
            provider=provider,
            availability_zone=None,
            topology=topology,
            tags=["sim"] if n % 4 == 0 else [],
            vip_qos_policy_id=QOS_POLICY_ID if n % 6 == 0 else None,
            vip_sg_ids=sorted(VIP_SG_IDS[: 1 + (n % 12 == 0)]) if n % 4 == 0 else [],
        )
        if n % 8 == 0:
            # A dual-stack VIP: the second address on an IPv6 subnet, its port derived from the
            # load balancer's (no draw from the generator, which would move every later id).
            lb.additional_vips.append({
                "subnet_id": VIP6_SUBNET_ID, "ip_address": f"2001:db8::{n:x}",
                "port_id": str(uuid.uuid5(uuid.NAMESPACE_OID, lb.vip_port_id))})
        self.add_row("loadbalancers", lb)

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
                # re-encrypted to the members: Octavia's default TLS versions and ALPN
                tls_enabled=protocol == "HTTPS" and n % 3 == 1,
                session_persistence=(
                    {"type": "HTTP_COOKIE", "cookie_name": None, "persistence_timeout": None,
                     "persistence_granularity": None}
                    if protocol == "HTTP" and n % 5 == 0 else None
                ),
            )
            self.add_row("pools", pool)
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
                timeout_client_data=120000 if n % 3 == 0 else 50000,
                timeout_member_data=300000 if protocol == "TCP" else 50000,
                timeout_tcp_inspect=0,
                allowed_cidrs=(["0.0.0.0/0"] if n % 7 == 0
                               else ["203.0.113.0/24", "192.0.2.0/24"] if n % 5 == 3 else None),
            )
            self.add_row("listeners", listener)
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
            self.add_row("l7policies", policy)
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
        self.add_row("l7rules", rule)
        if rule.id not in policy.rule_ids:
            policy.rule_ids.append(rule.id)
        return rule

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
            cert_expiration=self.cert_base_time() + rng.randint(1 * DAY, 400 * DAY),
            role=role,
            status=ALLOCATED,
            created_at=lb.created_at,
            updated_at=lb.created_at,
            image_id=IMAGE_ID,
            compute_flavor=FLAVOR_ID,
            vrrp_interface="eth1" if role != STANDALONE else None,
            vrrp_id=1 if role != STANDALONE else None,
            vrrp_priority=(100 if role == MASTER else 90) if role != STANDALONE else None,
        )
        self.add_row("amphorae", amp)
        lb.amphora_ids.append(amp.id)
        return amp

    def add_spare_amphora(self) -> Amphora:
        n = len(self.amphorae) + 1
        amp = Amphora(
            id=self.new_uuid(), loadbalancer_id=None, compute_id=self.new_uuid(),
            lb_network_ip=f"192.0.{(n >> 8) & 255}.{n & 255}", vrrp_ip=None, ha_ip=None,
            vrrp_port_id=None, ha_port_id=None,
            cert_expiration=self.cert_base_time() + self.rng.randint(1 * DAY, 400 * DAY), role=None,
            status=READY, created_at=self.clock, updated_at=self.clock, image_id=IMAGE_ID,
            compute_flavor=FLAVOR_ID,
        )
        self.add_row("amphorae", amp)
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
            delay=10 if n % 5 == 0 else 5,
            timeout=(10 if n % 5 == 0 else 3) if n % 10 else 15,
            http_method=("HEAD" if n % 4 == 2 else "GET") if http else None,
            url_path=("/healthz?from=octavia" if n % 6 == 0 else "/healthz") if http else None,
            expected_codes=("200-299" if n % 4 == 0 else "200") if http else None,
        )
        self.add_row("healthmonitors", hm)
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
            subnet_id=MEMBER_SUBNET_ID,
            weight=1 + (j % 3),
            backup=False,
            # health checks of the first member sent to a sidecar's port (and address)
            monitor_port=9000 if j == 0 and n % 6 == 0 else None,
            monitor_address=(f"172.31.{(m >> 8) & 255}.{m & 255}"
                             if j == 0 and n % 12 == 0 else None),
        )
        self.add_row("members", member)
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
        """Cascade-delete a load balancer; its amphorae stay in the table as DELETED, as in
        Octavia's database until housekeeping purges them (its API hides them)."""
        lb = self.loadbalancers[lb_id]
        for listener_id in list(lb.listener_ids):
            listener = self.listeners[listener_id]
            for policy_id in listener.l7policy_ids:
                for rule_id in self.l7policies[policy_id].rule_ids:
                    if rule_id in self.l7rules:
                        self.remove_row("l7rules", self.l7rules[rule_id])
                self.remove_row("l7policies", self.l7policies[policy_id])
            self.stats.pop(listener_id, None)
            self.remove_row("listeners", listener)
        for pool_id in list(lb.pool_ids):
            pool = self.pools[pool_id]
            for member_id in pool.member_ids:
                self.remove_row("members", self.members[member_id])
            if pool.healthmonitor_id and pool.healthmonitor_id in self.healthmonitors:
                self.remove_row("healthmonitors", self.healthmonitors[pool.healthmonitor_id])
            self.remove_row("pools", pool)
        replacement = self.failovers.pop(lb_id, ("", ""))[1]
        for amp_id in [*lb.amphora_ids, *([replacement] if replacement else [])]:
            amp = self.amphorae[amp_id]
            amp.status = DELETED
            amp.updated_at = self.clock
        # deleting the VIP port disassociates its floating IPs (Neutron keeps them, DOWN)
        for fip_id in list(self.fips_by_port.get(lb.vip_port_id, [])):
            self.attach_floatingip(self.floatingips[fip_id], None)
        self.remove_row("loadbalancers", lb)
        self.transitions.pop(lb_id, None)

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
        self.add_row("amphorae", new)
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

