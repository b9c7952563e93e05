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


# 13 load balancers over four projects: more than two pages at pagination_max_limit = 5, and every
# state and shape the exporter has to read.
PLAN: tuple[PlannedLB, ...] = (
    PlannedLB("plain", "admin", "web-1"),
    PlannedLB("two-listeners", "tenant-a", "shop \"front\"", listeners=2, connection_limit=1000),
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
    PlannedLB("single", "tenant-c", "standalone", amphorae=("ALLOCATED",)),
    PlannedLB("last", "tenant-a", "back\\slash"),
)


@dataclass
class Fleet:
    """Ids of what was created, by plan key; the plan itself."""

    plan: dict[str, PlannedLB]
    lb_ids: dict[str, str] = field(default_factory=dict)
    bodies: dict[str, dict[str, Any]] = field(default_factory=dict)  # the POST answers

    def lb(self, key: str) -> str:
        return self.lb_ids[key]

    def key_of(self, lb_id: str) -> str:
        return next(k for k, v in self.lb_ids.items() if v == lb_id)


def _members(n: int, base: int, port: int) -> list[dict[str, Any]]:
    return [{"name": f"m{base}-{i}", "address": f"192.0.2.{base + i}", "protocol_port": port,
             "subnet_id": str(uuid.UUID(int=base * 100 + i + 7))} for i in range(n)]


def lb_body(planned: PlannedLB, project_id: str, index: int) -> dict[str, Any]:
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
            **({"allowed_cidrs": ["203.0.113.0/24"]} if planned.connection_limit else {}),
        })
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
        for index, planned in enumerate(PLAN):
            response = http.post(f"{cloud.octavia_url}/v2/lbaas/loadbalancers", timeout=30,
                                 json={"loadbalancer": lb_body(
                                     planned, cloud.project_id(planned.project), index)})
            assert response.status_code == 201, (planned.key, response.status_code,
                                                  response.text)
            created = response.json()["loadbalancer"]
            fleet.lb_ids[planned.key] = created["id"]
            fleet.bodies[planned.key] = created
    return fleet


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
            amphora_ids = _amphorae(conn, lb_id, planned, fleet)
            _statistics(conn, lb_id, amphora_ids, planned, index=PLAN.index(planned))
        # A spare amphora (no load balancer) and a DELETED one, which Octavia keeps listing until
        # housekeeping purges it and which the exporter leaves out.
        _insert_amphora(conn, None, "READY", None, NOW + timedelta(days=700))
        _insert_amphora(conn, fleet.lb("plain"), "DELETED", "BACKUP", NOW - timedelta(days=3))


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
    """A row as the worker leaves it: VRRP fields for ACTIVE_STANDBY, ports once allocated."""
    amphora_id = str(uuid.uuid4())
    n = conn.execute("SELECT count(*) FROM amphora").fetchone()[0] + 10
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
         stamp(cert_expiration), stamp(NOW - timedelta(days=n)),
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

        lbs = rows("SELECT * FROM load_balancer WHERE provisioning_status != 'DELETED'")
        listeners = rows("SELECT * FROM listener")
        pools = rows("SELECT * FROM pool")
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
