"""A realistic fleet in the real Octavia: created through its API, put into states through its DB.

With `provider: noop_driver` every create answers 201 and then stays PENDING_CREATE / OFFLINE
forever (nothing drives it further), and child creates on a PENDING load balancer answer 409. So
each load balancer is created whole, in one POST, and then the database is changed the way
Octavia's health manager changes it: statuses of every object, `listener_statistics` rows (one per
amphora and listener: the API sums them) and `amphora` rows. The truth the tests compare with is
read back from that database and summed the way `octavia/common/stats.py` sums it.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tests.integration.harness import Cloud

NOW = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
STATS_KEYS = ("bytes_in", "bytes_out", "active_connections", "total_connections",
              "request_errors")


@dataclass
class PlannedLB:
    """One load balancer of the fleet and what Octavia's health manager would make of it."""

    key: str
    project: str
    name: str
    listeners: int = 1          # 0..2; the first HTTP with a health monitor, the second TCP
    unattached_pool: bool = False
    admin_up: bool = True
    status: tuple[str, str] = ("ACTIVE", "ONLINE")   # provisioning, operating
    amphorae: tuple[str, ...] = ("ALLOCATED", "ALLOCATED")  # MASTER, BACKUP; () = no amphorae
    degraded_member: bool = False
    connection_limit: int | None = None
    flavor: str | None = None   # "gold", or "retired" (disabled once the fleet exists)
    availability_zone: bool = False
    l7: bool = False            # three L7 policies on the HTTP listener (see _l7policies)
    configured: bool = False    # settings off their defaults (see lb_body and _settings)


# 13 load balancers over four projects: more than two pages at pagination_max_limit = 5, and every
# state and shape the exporter has to read.
PLAN: tuple[PlannedLB, ...] = (
    PlannedLB("plain", "admin", "web-1", flavor="gold", l7=True),
    PlannedLB("two-listeners", "tenant-a", "shop \"front\"", listeners=2, connection_limit=1000,
              flavor="gold", availability_zone=True, l7=True, configured=True),
    PlannedLB("degraded", "tenant-a", "api-ü", listeners=2, degraded_member=True,
              status=("ACTIVE", "DEGRADED"), amphorae=("ALLOCATED", "ERROR")),
    PlannedLB("error", "tenant-b", "broken", status=("ERROR", "ERROR")),
    PlannedLB("pending-update", "tenant-b", "updating", status=("PENDING_UPDATE", "ONLINE"),
              amphorae=("ALLOCATED", "BOOTING")),
    PlannedLB("as-created", "tenant-c", "fresh", status=("PENDING_CREATE", "OFFLINE"),
              amphorae=()),
    PlannedLB("no-listener", "tenant-c", "", listeners=0, amphorae=("ALLOCATED",)),
    PlannedLB("unattached-pool", "admin", "spare-pool", unattached_pool=True),
    PlannedLB("admin-down", "tenant-a", "disabled", admin_up=False,
              status=("ACTIVE", "OFFLINE")),
    PlannedLB("providerless", "tenant-b", "ovn-like", listeners=2, amphorae=()),
    PlannedLB("big-counters", "admin", "busy", listeners=2),
    PlannedLB("single", "tenant-c", "standalone", amphorae=("ALLOCATED",),
              availability_zone=True),
    PlannedLB("last", "tenant-a", "back\\slash", flavor="retired"),
)


@dataclass
class Fleet:
    """Ids of what was created, by plan key; the plan itself."""

    plan: dict[str, PlannedLB]
    lb_ids: dict[str, str] = field(default_factory=dict)
    flavor_ids: dict[str, str] = field(default_factory=dict)   # name -> id
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # the POST answers

    def lb(self, key: str) -> str:
        return self.lb_ids[key]

    def key_of(self, lb_id: str) -> str:
        return next(k for k, v in self.lb_ids.items() if v == lb_id)


def _members(n: int, base: int, port: int) -> list[dict[str, Any]]:
    return [{"name": f"m{base}-{i}", "address": f"192.0.2.{base + i}", "protocol_port": port,
             "subnet_id": str(uuid.UUID(int=base * 100 + i + 7))} for i in range(n)]


# The L7 side of the fleet: what the issue-14 metrics read. A rule's value is a made-up secret so
# that a test can prove it never reaches the exposition.
AVAILABILITY_ZONE = "az-int"
NIL_UUID = "00000000-0000-0000-0000-000000000000"
SECRET = "s3cr3t-cookie-value"
QUOTAS = {  # project -> the limits PUT on it (the rest stays at the defaults, -1)
    "tenant-a": {"loadbalancer": 4, "member": 40, "listener": -1},
    "tenant-b": {"l7policy": 10},
}


def _l7policies(key: str) -> list[dict[str, Any]]:
    return [
        {"name": f"{key}-deny-admin", "action": "REJECT", "position": 1, "rules": [
            {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/admin"},
            {"type": "COOKIE", "compare_type": "EQUAL_TO", "key": "session", "value": SECRET,
             "invert": True}]},
        {"name": f"{key}-to-https", "action": "REDIRECT_TO_URL",
         "redirect_url": "https://www.example.com/", "redirect_http_code": 301, "rules": [
             {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Forwarded-Proto",
              "value": "http"}]},
        {"name": f"{key}-prefix", "action": "REDIRECT_PREFIX",
         "redirect_prefix": "https://www.example.org", "rules": []},
    ]


# What the configured load balancer's settings are (the API's units: milliseconds for listener
# timeouts, seconds for the rest). The health check's token shows that a query string never
# reaches the exposition.
TIMEOUTS_MS = {"timeout_client_data": 120000, "timeout_member_connect": 3000,
               "timeout_member_data": 90000, "timeout_tcp_inspect": 500}
HSTS_MAX_AGE = 31536000
QOS_POLICY_ID = str(uuid.UUID(int=4243))
VIP_SG_IDS = (str(uuid.UUID(int=4245)), str(uuid.UUID(int=4244)))


def _configure_http(listener: dict[str, Any]) -> None:
    """Timeouts off Octavia's defaults, TLS to the members, an HTTP check with every option, a
    member checked on a port of its own and a backup member."""
    listener.update(TIMEOUTS_MS)
    pool = listener["default_pool"]
    # TLS to the members. Octavia 19 answers 500 ('tls_ciphers') for a tls_enabled pool created
    # inside a load balancer without its own TLS settings, so they are given.
    pool.update({"tls_enabled": True, "tls_ciphers": "ECDHE-RSA-AES256-GCM-SHA384",
                 "tls_versions": ["TLSv1.3", "TLSv1.2"], "alpn_protocols": ["http/1.1"]})
    pool["healthmonitor"].update({"http_method": "HEAD", "expected_codes": "200-204",
                                  "url_path": f"/health?token={SECRET}", "max_retries_down": 2,
                                  "delay": 4, "timeout": 6})
    pool["members"][0].update({"monitor_address": "192.0.2.250", "monitor_port": 9000})
    pool["members"][2]["backup"] = True


def lb_body(planned: PlannedLB, project_id: str, index: int,
            flavor_ids: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": planned.name, "description": f"integration fleet: {planned.key}",
        "vip_subnet_id": str(uuid.UUID(int=index + 1)), "provider": "noop_driver",
        "project_id": project_id, "admin_state_up": planned.admin_up, "listeners": [],
    }
    if planned.listeners >= 1:
        listener: dict[str, Any] = {
            "name": f"{planned.key}-http", "protocol": "HTTP", "protocol_port": 80,
            "default_pool": {
                "name": f"{planned.key}-http-pool", "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3,
                                  "url_path": "/health", "name": f"{planned.key}-hm"},
                "members": _members(3, 10 * index, 8080),
            },
        }
        if planned.connection_limit is not None:
            listener["connection_limit"] = planned.connection_limit
        if planned.configured:
            _configure_http(listener)
        if planned.l7:
            listener["l7policies"] = _l7policies(planned.key)
        body["listeners"].append(listener)
    if planned.listeners >= 2:
        tcp_pool: dict[str, Any] = {
            "name": f"{planned.key}-tcp-pool", "protocol": "TCP",
            "lb_algorithm": "LEAST_CONNECTIONS", "members": _members(2, 10 * index + 5, 443)}
        if planned.connection_limit is not None:
            # Some variety in the optional parts: a TCP monitor (no HTTP fields), session
            # persistence, a source-address allow list.
            tcp_pool["healthmonitor"] = {"type": "TCP", "delay": 10, "timeout": 5,
                                         "max_retries": 2}
            tcp_pool["session_persistence"] = {"type": "SOURCE_IP"}
        body["listeners"].append({
            "name": f"{planned.key}-tcp", "protocol": "TCP", "protocol_port": 443,
            "default_pool": tcp_pool,
            **({"allowed_cidrs": ["203.0.113.0/24", "198.51.100.0/24"]}
               if planned.connection_limit else {}),
        })
    if planned.flavor is not None and flavor_ids is not None:
        body["flavor_id"] = flavor_ids[planned.flavor]
    if planned.availability_zone:
        body["availability_zone"] = AVAILABILITY_ZONE
    if planned.unattached_pool:
        body["pools"] = [{"name": f"{planned.key}-unattached", "protocol": "HTTP",
                          "lb_algorithm": "SOURCE_IP", "members": _members(2, 200 + index, 80)}]
    return body


def create(cloud: Cloud) -> Fleet:
    """POST every load balancer as the admin, on behalf of its project."""
    fleet = Fleet({p.key: p for p in PLAN})
    token = cloud.token()
    with requests.Session() as http:
        http.headers.update({"X-Auth-Token": token, "Accept": "application/json"})

        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            response = http.post(f"{cloud.octavia_url}/{path}", json=body, timeout=30)
            assert response.status_code == 201, (path, response.status_code, response.text)
            answer: dict[str, Any] = response.json()
            return answer

        _offerings(post, fleet)
        for index, planned in enumerate(PLAN):
            created = post("v2/lbaas/loadbalancers", {"loadbalancer": lb_body(
                planned, cloud.project_id(planned.project), index, fleet.flavor_ids)})
            created = created["loadbalancer"]
            fleet.lb_ids[planned.key] = created["id"]
            fleet.bodies[planned.key] = created
        # Retired after use: the load balancer on it stays, as in a real flavor retirement.
        response = http.put(f"{cloud.octavia_url}/v2/lbaas/flavors/{fleet.flavor_ids['retired']}",
                            json={"flavor": {"enabled": False}}, timeout=30)
        assert response.status_code == 200, response.text
        # Quotas last: a limit below the usage would have refused the creates above.
        for project, limits in QUOTAS.items():
            response = http.put(f"{cloud.octavia_url}/v2/lbaas/quotas/"
                                f"{cloud.project_id(project)}", json={"quota": limits},
                                timeout=30)
            assert response.status_code == 202, response.text
    return fleet


def _offerings(post: Any, fleet: Fleet) -> None:
    """A flavor profile and two flavors on the noop provider, a zone profile and a zone."""
    profile = post("v2/lbaas/flavorprofiles", {"flavorprofile": {
        "name": "noop-profile", "provider_name": "noop_driver",
        "flavor_data": '{"amp_image_tag": "integration"}'}})["flavorprofile"]["id"]
    for name, description in (("gold", "The integration flavor"), ("retired", "")):
        fleet.flavor_ids[name] = post("v2/lbaas/flavors", {"flavor": {
            "name": name, "description": description, "flavor_profile_id": profile,
            "enabled": True}})["flavor"]["id"]
    zone_profile = post("v2/lbaas/availabilityzoneprofiles", {"availability_zone_profile": {
        "name": "noop-zones", "provider_name": "noop_driver",
        "availability_zone_data": '{"compute_zone": "nova"}'}})
    post("v2/lbaas/availabilityzones", {"availability_zone": {
        "name": AVAILABILITY_ZONE, "description": "Integration zone",
        "availability_zone_profile_id": zone_profile["availability_zone_profile"]["id"],
        "enabled": True}})


@contextmanager
def db(path: Path) -> Iterator[sqlite3.Connection]:
    """A short write transaction on Octavia's database, committed on exit."""
    with closing(sqlite3.connect(path, timeout=30)) as connection:
        connection.row_factory = sqlite3.Row
        with connection:
            yield connection


def stamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f")


def set_status(conn: sqlite3.Connection, table: str, object_id: str, **fields: str) -> None:
    assignments = ", ".join(f"{k} = ?" for k in fields)
    changed = conn.execute(f"UPDATE {table} SET {assignments}, updated_at = ? WHERE id = ?",
                           (*fields.values(), stamp(datetime.now(UTC)), object_id)).rowcount
    assert changed == 1, (table, object_id, fields)


def apply_states(cloud: Cloud, fleet: Fleet) -> None:
    """Statuses, amphorae and statistics, as the health manager and the worker would write them."""
    with db(cloud.db_path) as conn:
        for planned in PLAN:
            lb_id = fleet.lb(planned.key)
            provisioning, operating = planned.status
            # The network driver would have filled in the VIP's network; the noop one does not.
            conn.execute("UPDATE vip SET network_id = ? WHERE load_balancer_id = ?",
                         (str(uuid.UUID(int=4242)), lb_id))
            if planned.key != "as-created":  # left exactly as the noop provider leaves it
                _settle(conn, lb_id, planned)
                set_status(conn, "load_balancer", lb_id, provisioning_status=provisioning,
                           operating_status=operating)
            if planned.configured:
                _settings(conn, lb_id)
            amphora_ids = _amphorae(conn, lb_id, planned, fleet)
            _statistics(conn, lb_id, amphora_ids, planned, index=PLAN.index(planned))
        # A spare amphora (no load balancer) and a DELETED one, which stays in the table until
        # housekeeping purges it and which Octavia's API hides (show_deleted=False).
        _insert_amphora(conn, None, "READY", None, NOW + timedelta(days=700))
        _insert_amphora(conn, fleet.lb("plain"), "DELETED", "BACKUP", NOW - timedelta(days=3))


def _settings(conn: sqlite3.Connection, lb_id: str) -> None:
    """What the noop drivers cannot make: a VIP's QoS policy, security groups and SR-IOV vNIC
    (Neutron checks them), an additional VIP (Neutron allocates it), and HSTS (Octavia takes it
    only on a TERMINATED_HTTPS listener, whose certificate needs a key manager), written as
    Octavia writes them; its API serves them from these rows."""
    conn.execute("UPDATE vip SET qos_policy_id = ?, vnic_type = 'direct' WHERE "
                 "load_balancer_id = ?", (QOS_POLICY_ID, lb_id))
    conn.executemany("INSERT INTO vip_security_group (load_balancer_id, sg_id) VALUES (?, ?)",
                     [(lb_id, sg) for sg in VIP_SG_IDS])
    conn.execute("INSERT INTO additional_vip (load_balancer_id, ip_address, port_id, subnet_id, "
                 "network_id) VALUES (?, ?, ?, ?, ?)",
                 (lb_id, "2001:db8::10", str(uuid.UUID(int=4246)), str(uuid.UUID(int=4247)),
                  str(uuid.UUID(int=4242))))
    changed = conn.execute("UPDATE listener SET hsts_max_age = ?, hsts_include_subdomains = 1, "
                           "hsts_preload = 0 WHERE load_balancer_id = ? AND protocol = 'HTTP'",
                           (HSTS_MAX_AGE, lb_id)).rowcount
    assert changed == 1, lb_id


def _settle(conn: sqlite3.Connection, lb_id: str, planned: PlannedLB) -> None:
    """Every child ACTIVE with the operating status the health manager would derive."""
    child_op = "OFFLINE" if not planned.admin_up else "ONLINE"
    if planned.status[1] == "ERROR":
        child_op = "ERROR"
    for row in conn.execute("SELECT id FROM listener WHERE load_balancer_id = ?", (lb_id,)):
        conn.execute("UPDATE listener SET provisioning_status = 'ACTIVE', operating_status = ? "
                     "WHERE id = ?", (child_op, row["id"]))
    for pool in conn.execute("SELECT id FROM pool WHERE load_balancer_id = ?",
                             (lb_id,)).fetchall():
        monitored = conn.execute("SELECT id FROM health_monitor WHERE pool_id = ?",
                                 (pool["id"],)).fetchone()
        conn.execute("UPDATE pool SET provisioning_status = 'ACTIVE', operating_status = ? "
                     "WHERE id = ?", (child_op, pool["id"]))
        member_op = child_op if monitored or child_op != "ONLINE" else "NO_MONITOR"
        conn.execute("UPDATE member SET provisioning_status = 'ACTIVE', operating_status = ? "
                     "WHERE pool_id = ?", (member_op, pool["id"]))
        if monitored:
            conn.execute("UPDATE health_monitor SET provisioning_status = 'ACTIVE', "
                         "operating_status = ? WHERE id = ?",
                         ("ONLINE" if child_op != "ERROR" else "ERROR", monitored["id"]))
    for policy in conn.execute("SELECT p.id, p.name FROM l7policy p JOIN listener l ON "
                               "l.id = p.listener_id WHERE l.load_balancer_id = ?",
                               (lb_id,)).fetchall():
        # One policy and one rule failed their last change, on two load balancers.
        failed = policy["name"] == "two-listeners-to-https"
        conn.execute("UPDATE l7policy SET provisioning_status = ?, operating_status = ? "
                     "WHERE id = ?", ("ERROR" if failed else "ACTIVE",
                                      "ERROR" if failed else "ONLINE", policy["id"]))
        conn.execute("UPDATE l7rule SET provisioning_status = 'ACTIVE', "
                     "operating_status = 'ONLINE' WHERE l7policy_id = ?", (policy["id"],))
        if policy["name"] == "plain-deny-admin":
            conn.execute("UPDATE l7rule SET provisioning_status = 'ERROR' WHERE "
                         "l7policy_id = ? AND type = 'COOKIE'", (policy["id"],))
    if planned.degraded_member:
        # One member of the HTTP pool fails its checks; another is drained: the pool, the listener
        # and the load balancer roll up to DEGRADED.
        pool_id = conn.execute("SELECT p.id FROM pool p JOIN listener l ON l.default_pool_id = p.id"
                               " WHERE l.load_balancer_id = ? AND l.protocol = 'HTTP'",
                               (lb_id,)).fetchone()["id"]
        members = [r["id"] for r in conn.execute(
            "SELECT id FROM member WHERE pool_id = ? ORDER BY ip_address", (pool_id,))]
        conn.execute("UPDATE member SET operating_status = 'ERROR' WHERE id = ?", (members[0],))
        conn.execute("UPDATE member SET operating_status = 'DRAINING', weight = 0 WHERE id = ?",
                     (members[1],))
        conn.execute("UPDATE pool SET operating_status = 'DEGRADED' WHERE id = ?", (pool_id,))
        conn.execute("UPDATE listener SET operating_status = 'DEGRADED' WHERE default_pool_id = ?",
                     (pool_id,))


def _insert_amphora(conn: sqlite3.Connection, lb_id: str | None, status: str,
                    role: str | None, cert_expiration: datetime) -> str:
    """A row as the worker leaves it: VRRP fields for ACTIVE_STANDBY, ports once allocated;
    a load balancer's own amphorae created with it (the exporter reads their stats only then),
    spares days before."""
    amphora_id = str(uuid.uuid4())
    n = conn.execute("SELECT count(*) FROM amphora").fetchone()[0] + 10
    born = conn.execute("SELECT created_at FROM load_balancer WHERE id = ?",
                        (lb_id,)).fetchone() if lb_id else None
    created = born[0] if born and born[0] else stamp(NOW - timedelta(days=n))
    vrrp = role in ("MASTER", "BACKUP")
    conn.execute(
        "INSERT INTO amphora (id, load_balancer_id, compute_id, lb_network_ip, vrrp_ip, ha_ip, "
        "vrrp_port_id, ha_port_id, vrrp_interface, vrrp_id, vrrp_priority, cert_busy, role, "
        "status, cert_expiration, created_at, updated_at, image_id, compute_flavor, "
        "cached_zone) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?)",
        (amphora_id, lb_id, str(uuid.uuid4()), f"198.51.100.{n}",
         f"203.0.113.{n}" if lb_id else None, "203.0.113.250" if lb_id else None,
         str(uuid.uuid4()) if lb_id else None, str(uuid.uuid4()) if lb_id else None,
         "eth1" if vrrp else None, 1 if vrrp else None,
         (100 if role == "MASTER" else 90) if vrrp else None, role, status,
         stamp(cert_expiration), created,
         stamp(NOW - timedelta(hours=n)), str(uuid.UUID(int=99)), "amphora-flavor", "az-1"))
    return amphora_id


def _amphorae(conn: sqlite3.Connection, lb_id: str, planned: PlannedLB,
              fleet: Fleet) -> list[str]:
    roles = ("STANDALONE",) if len(planned.amphorae) == 1 else ("MASTER", "BACKUP")
    index = PLAN.index(planned)
    return [_insert_amphora(conn, lb_id, status, role,
                            NOW + timedelta(days=30 * (index + 1) + 7 * i, hours=i))
            for i, (status, role) in enumerate(zip(planned.amphorae, roles, strict=False))]


def _statistics(conn: sqlite3.Connection, lb_id: str, amphora_ids: list[str],
                planned: PlannedLB, index: int) -> None:
    listener_ids = [r["id"] for r in conn.execute(
        "SELECT id FROM listener WHERE load_balancer_id = ? ORDER BY protocol_port", (lb_id,))]
    for n, listener_id in enumerate(listener_ids):
        # A provider without amphorae reports under the listener's own id as the amphora id.
        sources = amphora_ids or [listener_id]
        for a, amphora_id in enumerate(sources):
            scale = 5_000_000_000 if planned.key == "big-counters" else 1
            seed = 1000 * index + 100 * n + 10 * a
            conn.execute(
                "INSERT INTO listener_statistics (listener_id, amphora_id, bytes_in, bytes_out, "
                "active_connections, total_connections, request_errors) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (listener_id, amphora_id, (seed + 1) * scale, (seed + 2) * 3 * scale,
                 index + n + a + 1, (seed + 3) * scale, (seed + 4) % 7))


# --- the truth, read back ------------------------------------------------------------------------

@dataclass
class Truth:
    loadbalancers: dict[str, dict[str, Any]]
    listeners: dict[str, dict[str, Any]]
    pools: dict[str, dict[str, Any]]
    members: dict[str, dict[str, Any]]
    healthmonitors: dict[str, dict[str, Any]]
    amphorae: dict[str, dict[str, Any]]
    listener_stats: dict[str, dict[str, int]]
    lb_stats: dict[str, dict[str, int]]
    # (amphora id, listener id) → the raw row, as GET /v2/octavia/amphorae/{id}/stats lists it
    amphora_stats: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)

    def of_projects(self, project_ids: set[str]) -> Truth:
        def keep(objects: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
            return {k: v for k, v in objects.items() if v["project_id"] in project_ids}
        lbs = keep(self.loadbalancers)
        return Truth(lbs, keep(self.listeners), keep(self.pools), keep(self.members),
                     keep(self.healthmonitors),
                     {k: v for k, v in self.amphorae.items() if v["load_balancer_id"] in lbs},
                     {k: v for k, v in self.listener_stats.items() if k in self.listeners
                      and self.listeners[k]["project_id"] in project_ids},
                     {k: v for k, v in self.lb_stats.items() if k in lbs})


def timestamp(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def read_truth(path: Path) -> Truth:
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.row_factory = sqlite3.Row

        def rows(sql: str) -> dict[str, dict[str, Any]]:
            return {r["id"]: dict(r) for r in conn.execute(sql)}

        lbs = rows("SELECT lb.*, v.qos_policy_id AS vip_qos_policy_id, v.vnic_type AS "
                   "vip_vnic_type FROM load_balancer lb LEFT JOIN vip v ON "
                   "v.load_balancer_id = lb.id WHERE lb.provisioning_status != 'DELETED'")
        listeners = rows("SELECT * FROM listener")
        pools = rows("SELECT p.*, s.type AS session_persistence FROM pool p LEFT JOIN "
                     "session_persistence s ON s.pool_id = p.id")
        for lb in lbs.values():
            lb["vip_sg_ids"] = sorted(r[0] for r in conn.execute(
                "SELECT sg_id FROM vip_security_group WHERE load_balancer_id = ?", (lb["id"],)))
            lb["additional_vips"] = sorted(tuple(r) for r in conn.execute(
                "SELECT ip_address, subnet_id, port_id FROM additional_vip WHERE "
                "load_balancer_id = ?", (lb["id"],)))
        for listener in listeners.values():
            listener["allowed_cidrs"] = sorted(r[0] for r in conn.execute(
                "SELECT cidr FROM listener_cidr WHERE listener_id = ?", (listener["id"],)))
        members = rows("SELECT m.*, p.load_balancer_id FROM member m JOIN pool p "
                       "ON p.id = m.pool_id")
        hms = rows("SELECT h.*, p.load_balancer_id FROM health_monitor h JOIN pool p "
                   "ON p.id = h.pool_id")
        amphorae = rows("SELECT * FROM amphora")
        stat_rows = [dict(r) for r in conn.execute("SELECT * FROM listener_statistics")]

    listener_stats: dict[str, dict[str, int]] = {
        lid: dict.fromkeys(STATS_KEYS, 0) for lid in listeners}
    for row in stat_rows:
        total = listener_stats.setdefault(row["listener_id"], dict.fromkeys(STATS_KEYS, 0))
        for key in ("bytes_in", "bytes_out", "total_connections", "request_errors"):
            total[key] += row[key]
        # octavia/common/stats.py: active connections only from ALLOCATED amphorae, or from the
        # row of a provider without amphorae (amphora id == listener id).
        amp = amphorae.get(row["amphora_id"])
        if (amp and amp["status"] == "ALLOCATED") or row["amphora_id"] == row["listener_id"]:
            total["active_connections"] += row["active_connections"]
    lb_stats: dict[str, dict[str, int]] = {lb_id: dict.fromkeys(STATS_KEYS, 0) for lb_id in lbs}
    for lid, lst in listeners.items():
        if lst["load_balancer_id"] in lb_stats:
            for key in STATS_KEYS:
                lb_stats[lst["load_balancer_id"]][key] += listener_stats[lid][key]
    for amp in amphorae.values():
        amp["project_id"] = lbs.get(amp["load_balancer_id"] or "", {}).get("project_id")
    amphora_stats = {(r["amphora_id"], r["listener_id"]): {k: r[k] for k in STATS_KEYS}
                     for r in stat_rows if r["amphora_id"] in amphorae}
    return Truth(lbs, listeners, pools, members, hms, amphorae, listener_stats, lb_stats,
                 amphora_stats)


# --- issue 14: what the inventory metrics are compared with -------------------------------------

def read_inventory_truth(path: Path) -> dict[str, Any]:
    """L7 policies and rules (with their listener's load balancer), flavors, zones and the
    objects per project, from Octavia's database."""
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        conn.row_factory = sqlite3.Row

        def rows(sql: str) -> dict[str, dict[str, Any]]:
            return {r["id"]: dict(r) for r in conn.execute(sql)}

        policies = rows("SELECT p.*, l.load_balancer_id FROM l7policy p JOIN listener l "
                        "ON l.id = p.listener_id WHERE p.provisioning_status != 'DELETED'")
        rules = rows("SELECT r.*, p.listener_id, l.load_balancer_id FROM l7rule r JOIN "
                     "l7policy p ON p.id = r.l7policy_id JOIN listener l ON "
                     "l.id = p.listener_id WHERE r.provisioning_status != 'DELETED'")
        # Octavia keeps a NIL_UUID placeholder row in both tables that its API never lists.
        flavors = rows(f"SELECT * FROM flavor WHERE id != '{NIL_UUID}'")
        zones = {r["name"]: dict(r) for r in conn.execute(
            f"SELECT * FROM availability_zone WHERE name != '{NIL_UUID}'")}
        usage: dict[str, dict[str, int]] = {}
        for resource, sql in (
                ("loadbalancer", "SELECT project_id FROM load_balancer WHERE "
                                 "provisioning_status != 'DELETED'"),
                ("listener", "SELECT project_id FROM listener"),
                ("pool", "SELECT project_id FROM pool"),
                ("member", "SELECT project_id FROM member"),
                ("healthmonitor", "SELECT project_id FROM health_monitor"),
                ("l7policy", "SELECT project_id FROM l7policy"),
                ("l7rule", "SELECT project_id FROM l7rule")):
            for row in conn.execute(sql):
                counts = usage.setdefault(row["project_id"], {})
                counts[resource] = counts.get(resource, 0) + 1
    return {"l7policies": policies, "l7rules": rules, "flavors": flavors,
            "availability_zones": zones, "usage": usage}
