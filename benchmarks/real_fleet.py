"""A real Keystone + Octavia API (tests/integration's harness) holding a fleet of N load balancers.

One load balancer of the benchmark's shape — 2 listeners (HTTP, TCP), each with a default pool
with a health monitor and 5 members, and 1 amphora — is created through the API, put into the
states Octavia's health manager would give it, then cloned N - 1 times inside Octavia's database
in one transaction: new UUIDs, remapped foreign keys, distinct creation times in SQLAlchemy's
`YYYY-MM-DD HH:MM:SS.ffffff` form (another form breaks pagination silently), and the project's
quota `in_use_*` counters raised to match.

Two changes to the harness's Octavia, both stated in docs/benchmarks.md:
- `pagination_max_limit = 1000` (Octavia's default; the tests use 5 to exercise pagination) and
  a keystonemiddleware token cache of 300 s (its default; the tests use 2 s for revocation);
- an index on every foreign-key column that has none. Production Octavia runs on MySQL/MariaDB,
  whose InnoDB indexes every foreign key by itself; sqlite does not, and without them each status
  tree scans every pool and amphora of the fleet, a cost that grows with N no real API has.

Octavia's gunicorn gets a config file whose `pre_request` hook appends one line per request
(epoch seconds, method, path, user agent) to a log: requests counted at the server.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.integration import harness  # noqa: E402

MEMBERS_PER_POOL = 5
STAMP = "%Y-%m-%d %H:%M:%S.%f"

GUNICORN_HOOKS = '''\
import os, threading, time
_path = os.environ["BENCH_REQUEST_LOG"]
_lock = threading.Lock()
_out = open(_path, "a", buffering=1)

def _agent(req):
    for name, value in req.headers:
        if name == "USER-AGENT":
            return value.replace(" ", "_")
    return ""


def pre_request(worker, req):
    with _lock:
        _out.write(f"{time.time():.4f} {req.method} {req.path} {_agent(req)}\\n")
    req._bench_started = time.time()


# Start, end and user agent of every request, so a benchmark can tell what the API was busy
# with at any moment (what another client's slow request overlapped).
_done = open(_path.replace(".log", "-done.log"), "a", buffering=1)


def post_request(worker, req, environ, resp):
    started = getattr(req, "_bench_started", None)
    if started is None:
        return
    with _lock:
        _done.write(f"{started:.4f} {time.time():.4f} {req.path} {_agent(req)}\\n")
'''


@dataclass
class RealCloud:
    cloud: harness.Cloud
    request_log: Path
    lb_ids: list[str] = field(default_factory=list)
    listener_ids: list[str] = field(default_factory=list)
    pool_ids: list[str] = field(default_factory=list)
    amphora_ids: list[str] = field(default_factory=list)

    @property
    def octavia_url(self) -> str:
        return self.cloud.octavia_url

    def token(self, user: str = "admin") -> str:
        return self.cloud.token(user)

    def counts(self) -> dict[str, int]:
        with contextlib.closing(sqlite3.connect(self.cloud.db_path)) as conn:
            return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                    for table in ("load_balancer", "listener", "pool", "health_monitor",
                                  "member", "amphora", "listener_statistics")}

    def stop(self) -> None:
        self.cloud.stop()


def start(workdir: Path) -> RealCloud:
    """Keystone and Octavia from the harness's cached virtualenv and template databases."""
    harness.PAGE_CAP = 1000
    harness.TOKEN_CACHE_SECONDS = 300
    venv = harness.ensure_venv()
    template, _ = harness.ensure_template(venv)
    ks_port, oct_port = harness.free_port(), harness.free_port()
    while oct_port == ks_port:
        oct_port = harness.free_port()
    seed = harness.instantiate(template, workdir, ks_port, oct_port)
    hooks = workdir / "gunicorn_hooks.py"
    hooks.write_text(GUNICORN_HOOKS)
    request_log = workdir / "octavia-requests.log"
    request_log.touch()
    env = {**harness.service_env(workdir), "BENCH_REQUEST_LOG": str(request_log)}
    auth_url = f"http://127.0.0.1:{ks_port}/v3"
    keystone = harness.Server("keystone", harness.gunicorn(venv, "wsgi_keystone", ks_port), env,
                              workdir / "keystone-gunicorn.log", ks_port, auth_url)
    octavia_argv = harness.gunicorn(venv, "wsgi_octavia", oct_port)
    octavia_argv[3:3] = ["--config", str(hooks)]  # after `python -m gunicorn`
    octavia = harness.Server("octavia", octavia_argv, env, workdir / "octavia-gunicorn.log",
                             oct_port, f"http://127.0.0.1:{oct_port}/")
    keystone.launch()
    octavia.launch()
    try:
        keystone.wait_ready()
        octavia.wait_ready()
    except BaseException:
        harness.stop_servers([octavia, keystone])
        raise
    clouds = workdir / "clouds.yaml"
    clouds.write_text(yaml.safe_dump(harness.clouds_yaml(auth_url, seed)))
    clouds.chmod(0o600)
    cloud = harness.Cloud(venv, workdir, keystone, octavia, seed, clouds, template)
    return RealCloud(cloud, request_log)


def tree_body(project_id: str) -> dict[str, Any]:
    def members(base: int, port: int) -> list[dict[str, Any]]:
        return [{"name": f"m{base + i}", "address": f"192.0.2.{base + i}", "protocol_port": port,
                 "subnet_id": str(uuid.UUID(int=7))} for i in range(MEMBERS_PER_POOL)]

    def listener(protocol: str, port: int, hm: dict[str, Any], base: int) -> dict[str, Any]:
        return {"name": f"{protocol.lower()}-{port}", "protocol": protocol, "protocol_port": port,
                "default_pool": {"name": f"pool-{protocol.lower()}", "protocol": protocol,
                                 "lb_algorithm": "ROUND_ROBIN", "healthmonitor": hm,
                                 "members": members(base, 8000 + port)}}

    return {"loadbalancer": {
        "name": "bench-00000", "description": "benchmark fleet", "provider": "noop_driver",
        "vip_subnet_id": str(uuid.UUID(int=1)), "project_id": project_id,
        "listeners": [
            listener("HTTP", 80, {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3,
                                  "url_path": "/health", "name": "hm-http"}, 10),
            listener("TCP", 443, {"type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3,
                                  "name": "hm-tcp"}, 20),
        ]}}


def _rows(conn: sqlite3.Connection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, args)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _insert(conn: sqlite3.Connection, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = list(rows[0])
    conn.executemany(
        f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
        [tuple(r[n] for n in names) for r in rows])


def settle(conn: sqlite3.Connection, lb_id: str, now: datetime) -> None:
    """What the worker and the health manager would write: all ACTIVE/ONLINE, one amphora with
    statistics for both listeners."""
    stamp = now.strftime(STAMP)
    conn.execute("UPDATE load_balancer SET provisioning_status = 'ACTIVE', operating_status = "
                 "'ONLINE', topology = 'SINGLE', updated_at = ? WHERE id = ?", (stamp, lb_id))
    conn.execute("UPDATE vip SET network_id = ? WHERE load_balancer_id = ?",
                 (str(uuid.UUID(int=4242)), lb_id))
    conn.execute("UPDATE listener SET provisioning_status = 'ACTIVE', operating_status = 'ONLINE'"
                 " WHERE load_balancer_id = ?", (lb_id,))
    pools = [r["id"] for r in _rows(conn, "SELECT id FROM pool WHERE load_balancer_id = ?",
                                    lb_id)]
    for pool_id in pools:
        conn.execute("UPDATE pool SET provisioning_status = 'ACTIVE', operating_status = "
                     "'ONLINE' WHERE id = ?", (pool_id,))
        conn.execute("UPDATE health_monitor SET provisioning_status = 'ACTIVE', "
                     "operating_status = 'ONLINE' WHERE pool_id = ?", (pool_id,))
        conn.execute("UPDATE member SET provisioning_status = 'ACTIVE', operating_status = "
                     "'ONLINE' WHERE pool_id = ?", (pool_id,))
    amphora_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO amphora (id, load_balancer_id, compute_id, lb_network_ip, vrrp_ip, ha_ip, "
        "cert_busy, role, status, cert_expiration, created_at, updated_at, image_id, "
        "compute_flavor, cached_zone) VALUES (?, ?, ?, ?, ?, ?, 0, 'STANDALONE', 'ALLOCATED', "
        "?, ?, ?, ?, 'amphora-flavor', 'az-1')",
        (amphora_id, lb_id, str(uuid.uuid4()), "198.51.100.10", "203.0.113.10", "203.0.113.250",
         (now + timedelta(days=300)).strftime(STAMP), stamp, stamp, str(uuid.UUID(int=99))))
    for n, row in enumerate(_rows(conn, "SELECT id FROM listener WHERE load_balancer_id = ?",
                                  lb_id)):
        conn.execute("INSERT INTO listener_statistics (listener_id, amphora_id, bytes_in, "
                     "bytes_out, active_connections, total_connections, request_errors) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (row["id"], amphora_id, 1000 + n, 3000 + n, 1 + n, 100 + n, n))


def clone(conn: sqlite3.Connection, lb_id: str, copies: int, now: datetime) -> None:
    """`copies` more load balancers like `lb_id`, in the caller's transaction."""
    lb = _rows(conn, "SELECT * FROM load_balancer WHERE id = ?", lb_id)[0]
    vip = _rows(conn, "SELECT * FROM vip WHERE load_balancer_id = ?", lb_id)[0]
    listeners = _rows(conn, "SELECT * FROM listener WHERE load_balancer_id = ?", lb_id)
    pools = _rows(conn, "SELECT * FROM pool WHERE load_balancer_id = ?", lb_id)
    pool_ids = [p["id"] for p in pools]
    marks = ", ".join("?" * len(pool_ids))
    monitors = _rows(conn, f"SELECT * FROM health_monitor WHERE pool_id IN ({marks})", *pool_ids)
    members = _rows(conn, f"SELECT * FROM member WHERE pool_id IN ({marks})", *pool_ids)
    amphorae = _rows(conn, "SELECT * FROM amphora WHERE load_balancer_id = ?", lb_id)
    listener_ids = [x["id"] for x in listeners]
    stats = _rows(conn, "SELECT * FROM listener_statistics WHERE listener_id IN "
                  f"({', '.join('?' * len(listener_ids))})", *listener_ids)
    for table in ("session_persistence", "l7policy", "sni", "listener_cidr", "tags"):
        column = {"session_persistence": "pool_id", "tags": "resource_id"}.get(table,
                                                                          "listener_id")
        ids = pool_ids if column == "pool_id" else listener_ids
        found = conn.execute(f"SELECT count(*) FROM {table} WHERE {column} IN "
                             f"({', '.join('?' * len(ids))})", ids).fetchone()[0]
        assert found == 0, f"the template has {table} rows the clone does not copy"

    out: dict[str, list[dict[str, Any]]] = {t: [] for t in (
        "load_balancer", "vip", "pool", "listener", "health_monitor", "member", "amphora",
        "listener_statistics")}
    for i in range(1, copies + 1):
        ids: dict[str, str] = {}

        def new(old: str | None, ids: dict[str, str] = ids) -> str | None:
            if old is None:
                return None
            if old not in ids:
                ids[old] = str(uuid.uuid4())
            return ids[old]

        created = (now - timedelta(seconds=copies - i + 1)).strftime(STAMP)
        out["load_balancer"].append({**lb, "id": new(lb["id"]), "name": f"bench-{i:05d}",
                                     "created_at": created, "updated_at": created})
        out["vip"].append({**vip, "load_balancer_id": new(lb["id"]), "port_id": str(uuid.uuid4()),
                           "ip_address": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"})
        for pool in pools:
            out["pool"].append({**pool, "id": new(pool["id"]), "load_balancer_id": new(lb["id"]),
                                "created_at": created})
        for listener in listeners:
            out["listener"].append({**listener, "id": new(listener["id"]),
                                    "load_balancer_id": new(lb["id"]),
                                    "default_pool_id": new(listener["default_pool_id"]),
                                    "created_at": created})
        for hm in monitors:
            out["health_monitor"].append({**hm, "id": new(hm["id"]), "pool_id": new(hm["pool_id"]),
                                          "created_at": created})
        for member in members:
            out["member"].append({**member, "id": new(member["id"]),
                                  "pool_id": new(member["pool_id"]), "created_at": created})
        for amp in amphorae:
            out["amphora"].append({**amp, "id": new(amp["id"]), "load_balancer_id": new(lb["id"]),
                                   "compute_id": str(uuid.uuid4()), "created_at": created})
        for row in stats:
            out["listener_statistics"].append({**row, "listener_id": new(row["listener_id"]),
                                               "amphora_id": new(row["amphora_id"])})
    # Parents before children: the foreign keys are not enforced by sqlite, but keep it honest.
    for table in ("load_balancer", "vip", "pool", "listener", "health_monitor", "member",
                  "amphora", "listener_statistics"):
        _insert(conn, table, out[table])
    n = copies
    conn.execute("UPDATE quotas SET in_use_load_balancer = coalesce(in_use_load_balancer, 0) + ?,"
                 " in_use_listener = coalesce(in_use_listener, 0) + ?, in_use_pool = "
                 "coalesce(in_use_pool, 0) + ?, in_use_health_monitor = "
                 "coalesce(in_use_health_monitor, 0) + ?, in_use_member = "
                 "coalesce(in_use_member, 0) + ? WHERE project_id = ?",
                 (n, n * len(listeners), n * len(pools), n * len(monitors), n * len(members),
                  lb["project_id"]))


def index_foreign_keys(conn: sqlite3.Connection) -> list[str]:
    """An index on every foreign-key column set no index leads with (what InnoDB does)."""
    made = []
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        leading = set()
        for index in conn.execute(f"PRAGMA index_list('{table}')").fetchall():
            columns = conn.execute(f"PRAGMA index_info('{index[1]}')").fetchall()
            if columns:
                leading.add(columns[0][2])
        for fk in conn.execute(f"PRAGMA foreign_key_list('{table}')").fetchall():
            column = fk[3]
            if column in leading:
                continue
            name = f"ix_bench_{table}_{column}"
            conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column})")
            leading.add(column)
            made.append(name)
    return made


def build(real: RealCloud, lbs: int) -> dict[str, float]:
    """Create one tree through the API and clone it to `lbs` load balancers in all."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    admin_project = real.cloud.project_id("admin") if "admin" in real.cloud.seed["projects"] \
        else None
    token = real.token()
    response = requests.post(f"{real.octavia_url}/v2/lbaas/loadbalancers", timeout=60,
                             headers={"X-Auth-Token": token},
                             json=tree_body(admin_project or ""))
    if response.status_code != 201:
        raise RuntimeError(f"creating the template tree: {response.status_code} "
                           f"{response.text[:500]}")
    lb_id = response.json()["loadbalancer"]["id"]
    timings["create_tree"] = time.monotonic() - started
    now = datetime.now(UTC).replace(tzinfo=None)
    started = time.monotonic()
    with contextlib.closing(sqlite3.connect(real.cloud.db_path, timeout=60)) as conn, conn:
        settle(conn, lb_id, now)
        clone(conn, lb_id, lbs - 1, now)
        timings["indexes"] = len(index_foreign_keys(conn))
    timings["clone"] = time.monotonic() - started
    with contextlib.closing(sqlite3.connect(real.cloud.db_path)) as conn:
        real.lb_ids = [r[0] for r in conn.execute("SELECT id FROM load_balancer")]
        real.listener_ids = [r[0] for r in conn.execute("SELECT id FROM listener")]
        real.pool_ids = [r[0] for r in conn.execute("SELECT id FROM pool")]
        real.amphora_ids = [r[0] for r in conn.execute("SELECT id FROM amphora")]
    return timings


@contextlib.contextmanager
def running(workdir: Path, lbs: int) -> Iterator[RealCloud]:
    real = start(workdir)
    try:
        real.cloud.timings.update(build(real, lbs))
        yield real
    finally:
        real.stop()
