"""The data plane of PROMETHEUS listeners: what an amphora's `prometheus-proxy` serves.

Octavia's proxy (octavia/cmd/prometheus_proxy.py) renames HAProxy's exporter output to
`octavia_loadbalancer_*`, `octavia_listener_*{listener="<id>"}`,
`octavia_pool_*{pool="<pool id>:<listener id>"}` and
`octavia_member_*{pool="…",member="<id>"}`, for every listener of the load balancer (the
PROMETHEUS one included). This module renders a subset of those families, with the proxy's
names, HELP texts, types and label scheme, from the simulated fleet:

- listener counters follow the listener's statistics rows (the ones the control API pumps);
  an HTTP listener's request errors are its 5xx answers, the rest 2xx;
- a listener's traffic goes to the pools it uses and, within a pool, to its UP members by
  weight; every counter only grows (deltas are shared out at each scrape);
- a member is UP unless it is disabled or its operating status is ERROR or OFFLINE; going DOWN
  counts the health monitor's `max_retries_down` failed checks and an UP->DOWN transition,
  and while DOWN its downtime grows with wall time; the pool's queue time is the connect
  timeout times the share of members DOWN.

Transitions are seen when a scrape runs, as they would be between two HAProxy checks.

`POST /_sim/loadbalancers/{id}/prometheus` adds a PROMETHEUS listener to a load balancer and
serves it on 127.0.0.1, on a port of its own that becomes the listener's `protocol_port`
(`GET http://127.0.0.1:<port>/metrics`); `GET /_sim/listeners/{id}/prometheus` answers the
same text on the simulator's own port. Nothing routes to the simulated VIPs: a test that
scrapes through discovery gives the load balancer a loopback address (a floating IP or VIP of
127.0.0.1) through the control API.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from exporter.simulator.fleet import Fleet
from exporter.simulator.model import (
    ACTIVE,
    ERROR,
    OFFLINE,
    ONLINE,
    Listener,
    LoadBalancer,
    Member,
    Pool,
)

if TYPE_CHECKING:
    from exporter.simulator.app import Region, Simulator

PROTOCOL = "PROMETHEUS"
HOST = "127.0.0.1"
CONTENT_TYPE = "text/plain; version=0.0.4"
CODES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
HTTP_PROTOCOLS = ("HTTP", "HTTPS", "TERMINATED_HTTPS")
# HAProxy's defaults where Octavia sets none: maxconn of the process and of a frontend.
MAX_CONNECTIONS = 150000
LIMIT_SESSIONS = 50000
RESPONSE_TIME = 0.012
CONNECT_TIME = 0.001

# name -> (type, HELP) as the proxy prints them (its own HELP where it replaces HAProxy's).
FAMILIES: dict[str, tuple[str, str]] = {
    "octavia_loadbalancer_cpu": ("gauge", "Load balancer CPU utilization (percentage)."),
    "octavia_loadbalancer_memory": ("gauge", "Load balancer memory utilization (percentage)."),
    "octavia_loadbalancer_max_connections": ("gauge", "Maximum number of concurrent connections."),
    "octavia_loadbalancer_current_connections": ("gauge", "Number of active sessions."),
    "octavia_loadbalancer_connections_total": ("counter", "Total number of created sessions."),
    "octavia_loadbalancer_requests_total": ("counter", "Total number of requests (TCP or HTTP)."),
    "octavia_loadbalancer_listeners": ("gauge", "Number of configured listeners."),
    "octavia_listener_status": ("gauge", "Current status of the listener."),
    "octavia_listener_current_sessions": ("gauge", "Current number of active sessions."),
    "octavia_listener_limit_sessions": ("gauge", "Configured session limit."),
    "octavia_listener_sessions_total": ("counter", "Total number of sessions."),
    "octavia_listener_connections_total": ("counter", "Total number of connections."),
    "octavia_listener_bytes_in_total": ("counter", "Current total of incoming bytes."),
    "octavia_listener_bytes_out_total": ("counter", "Current total of outgoing bytes."),
    "octavia_listener_request_errors_total": ("counter", "Total number of request errors."),
    "octavia_listener_http_requests_total": ("counter",
                                             "Total number of HTTP requests received."),
    "octavia_listener_http_responses_total": ("counter", "Total number of HTTP responses."),
    "octavia_pool_status": ("gauge", "Current status of the pool."),
    "octavia_pool_current_sessions": ("gauge", "Current number of active sessions."),
    "octavia_pool_sessions_total": ("counter", "Total number of sessions."),
    "octavia_pool_current_queue": ("gauge", "Current number of queued requests."),
    "octavia_pool_bytes_in_total": ("counter", "Current total of incoming bytes."),
    "octavia_pool_bytes_out_total": ("counter", "Current total of outgoing bytes."),
    "octavia_pool_queue_time_average_seconds": (
        "gauge", "Avg. queue time for last 1024 successful connections."),
    "octavia_pool_connect_time_average_seconds": (
        "gauge", "Avg. connect time for last 1024 successful connections."),
    "octavia_pool_response_time_average_seconds": (
        "gauge", "Avg. response time for last 1024 successful connections."),
    "octavia_pool_total_time_average_seconds": (
        "gauge", "Avg. total time for last 1024 successful connections."),
    "octavia_pool_active_members": ("gauge", "Current number of active members."),
    "octavia_pool_backup_members": ("gauge", "Current number of backup members."),
    "octavia_pool_check_up_down_total": ("counter", "Total number of UP->DOWN transitions."),
    "octavia_pool_downtime_seconds_total": ("counter",
                                            "Total downtime (in seconds) for the pool."),
    "octavia_pool_http_responses_total": ("counter", "Total number of HTTP responses."),
    "octavia_member_status": ("gauge", "Current status of the member."),
    "octavia_member_current_sessions": ("gauge", "Current number of active sessions."),
    "octavia_member_sessions_total": ("counter", "Total number of sessions."),
    "octavia_member_bytes_in_total": ("counter", "Current total of incoming bytes."),
    "octavia_member_bytes_out_total": ("counter", "Current total of outgoing bytes."),
    "octavia_member_response_time_average_seconds": (
        "gauge", "Avg. response time for last 1024 successful connections."),
    "octavia_member_weight": ("gauge", "Member weight."),
    "octavia_member_check_failures_total": (
        "counter", "Total number of failed check (Only counts checks failed when the member "
                   "is up)."),
    "octavia_member_check_up_down_total": ("counter", "Total number of UP->DOWN transitions."),
    "octavia_member_downtime_seconds_total": (
        "counter", "Total downtime (in seconds) for the member."),
    "octavia_member_check_last_change_seconds": (
        "gauge", "Number of seconds since the last UP<->DOWN transition."),
    "octavia_member_http_responses_total": ("counter", "Total number of HTTP responses."),
}
# The listener statistics shared out to pools and members.
SHARED = ("sessions", "bytes_in", "bytes_out", "errors")


@dataclass
class Check:
    """HAProxy's health-check view of one server (member in one pool:listener backend)."""

    up: bool = True
    changed_at: float = 0.0
    downtime: float = 0.0
    failures: int = 0
    transitions: int = 0

    def observe(self, up: bool, now: float, fall: int) -> None:
        if up == self.up:
            return
        if not up:
            self.failures += fall
            self.transitions += 1
        else:
            self.downtime += now - self.changed_at
        self.up, self.changed_at = up, now

    def downtime_at(self, now: float) -> float:
        return self.downtime + (0.0 if self.up else now - self.changed_at)


@dataclass
class Served:
    """One PROMETHEUS listener: where it is served and what its scrapes have seen."""

    region: str
    loadbalancer_id: str
    listener_id: str
    port: int
    runner: web.AppRunner | None = None
    # (listener id) -> the listener's statistics at the last scrape
    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    # (kind, labels..., statistic) -> counter value
    counters: dict[tuple[str, ...], float] = field(default_factory=dict)
    checks: dict[tuple[str, str], Check] = field(default_factory=dict)


def member_up(member: Member) -> bool:
    return member.admin_state_up and member.operating_status not in (ERROR, OFFLINE)


class DataPlane:
    """The PROMETHEUS listeners of every region, and their scrape servers."""

    def __init__(self, sim: Simulator, clock: Callable[[], float] = time.time) -> None:
        self.sim = sim
        self.clock = clock
        self.served: dict[str, Served] = {}

    def routes(self) -> list[tuple[str, str, Callable[[web.Request], Any]]]:
        return [
            ("POST", "/_sim/loadbalancers/{id}/prometheus", self.create),
            ("GET", "/_sim/listeners/{id}/prometheus", self.scrape_here),
        ]

    def _region(self, request: web.Request) -> Region:
        name = request.query.get("region")
        region = self.sim.default_region if name is None else self.sim.regions.get(name)
        if region is None:
            raise web.HTTPNotFound(text=json.dumps({"error": f"no region {name!r}"}),
                                   content_type="application/json")
        return region

    async def create(self, request: web.Request) -> web.StreamResponse:
        """Add a PROMETHEUS listener (body: optional `name`, `protocol_port`, 0 or absent:
        a free port) and serve it."""
        region = self._region(request)
        fleet = region.fleet
        lb = fleet.loadbalancers.get(request.match_info["id"])
        if lb is None:
            return web.json_response({"error": f"no load balancer {request.match_info['id']}"},
                                     status=404)
        try:
            raw = await request.read()
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict) or set(body) - {"name", "protocol_port"}:
                raise ValueError("body: an object with optional name and protocol_port")
            port = int(body.get("protocol_port") or 0)
            name = str(body.get("name", f"{lb.name or 'lb'}-prometheus"))
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        listener = add_listener(fleet, lb, name, port)
        served = Served(region.name, lb.id, listener.id, port)
        try:
            served.runner, served.port = await self._serve(served)
        except OSError as exc:
            fleet.remove_row("listeners", listener)
            lb.listener_ids.remove(listener.id)
            return web.json_response({"error": f"cannot listen on {HOST}:{port}: {exc}"},
                                     status=409)
        listener.protocol_port = served.port
        self.served[listener.id] = served
        return web.json_response({
            "listener": listener.id, "loadbalancer": lb.id, "protocol_port": served.port,
            "url": f"http://{HOST}:{served.port}/metrics",
        }, status=201)

    async def _serve(self, served: Served) -> tuple[web.AppRunner, int]:
        app = web.Application()

        async def metrics(request: web.Request) -> web.StreamResponse:
            text = self.render(served)
            if text is None:
                return web.Response(status=503, text="listener deleted\n")
            return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})

        app.router.add_get("/metrics", metrics)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, HOST, served.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        sockets = getattr(site._server, "sockets", None) or []
        return runner, int(sockets[0].getsockname()[1]) if sockets else served.port

    async def scrape_here(self, request: web.Request) -> web.StreamResponse:
        served = self.served.get(request.match_info["id"])
        text = self.render(served) if served is not None else None
        if text is None:
            return web.json_response({"error": "no PROMETHEUS listener "
                                      f"{request.match_info['id']}"}, status=404)
        return web.Response(text=text, headers={"Content-Type": CONTENT_TYPE})

    async def start(self) -> None:
        """Serve again, on the same ports, what a stop() closed."""
        for served in self.served.values():
            if served.runner is None:
                served.runner, served.port = await self._serve(served)

    async def stop(self) -> None:
        for served in self.served.values():
            runner, served.runner = served.runner, None
            if runner is not None:
                await runner.cleanup()

    def render(self, served: Served) -> str | None:
        region = self.sim.regions.get(served.region)
        fleet = region.fleet if region is not None else None
        if fleet is None or served.listener_id not in fleet.listeners:
            return None
        lb = fleet.loadbalancers[served.loadbalancer_id]
        return render(fleet, lb, served, self.clock())


def add_listener(fleet: Fleet, lb: LoadBalancer, name: str, port: int) -> Listener:
    """A PROMETHEUS listener on `lb` (no pool: Octavia allows none on one)."""
    stamp = fleet.write_stamp() if fleet.stamping else fleet.clock
    listener = Listener(
        id=fleet.new_uuid(), project_id=lb.project_id, loadbalancer_id=lb.id, name=name,
        description="", provisioning_status=ACTIVE, operating_status=ONLINE,
        admin_state_up=True, protocol=PROTOCOL, protocol_port=port, created_at=stamp,
        updated_at=stamp)
    fleet.add_row("listeners", listener)
    lb.listener_ids.append(listener.id)
    lb.updated_at = stamp
    return listener


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    inner = ",".join(f'{k}="{v}"' for k, v in pairs)
    return "{" + inner + "}" if inner else ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6f}"


def _share(total: float, weights: list[int]) -> list[float]:
    whole = sum(weights)
    return [total * w / whole if whole else 0.0 for w in weights]


def render(fleet: Fleet, lb: LoadBalancer, served: Served, now: float) -> str:
    """The proxy's exposition for `lb`, moving `served`'s counters on to now."""
    lines: dict[str, list[str]] = {name: [] for name in FAMILIES}

    def put(name: str, labels: Iterable[tuple[str, str]], value: float) -> None:
        if FAMILIES[name][0] == "counter":
            value = math.floor(value)  # HAProxy counts whole sessions and bytes
        lines[name].append(f"{name}{_labels(labels)} {_number(value)}")

    def count(key: tuple[str, ...], delta: float) -> float:
        served.counters[key] = served.counters.get(key, 0.0) + max(0.0, delta)
        return served.counters[key]

    listeners = [fleet.listeners[i] for i in lb.listener_ids if i in fleet.listeners]
    active_total = connections_total = 0
    for listener in listeners:
        stats = fleet.listener_stats(listener.id)
        before = served.seen.get(listener.id, dict.fromkeys(stats, 0))
        served.seen[listener.id] = stats
        delta = {
            "sessions": stats["total_connections"] - before["total_connections"],
            "bytes_in": stats["bytes_in"] - before["bytes_in"],
            "bytes_out": stats["bytes_out"] - before["bytes_out"],
            "errors": stats["request_errors"] - before["request_errors"],
        }
        http = listener.protocol in HTTP_PROTOCOLS
        active_total += stats["active_connections"]
        connections_total += stats["total_connections"]
        own = (("listener", listener.id),)
        put("octavia_listener_status", own, 1 if listener.admin_state_up else 0)
        put("octavia_listener_current_sessions", own, stats["active_connections"])
        put("octavia_listener_limit_sessions", own,
            listener.connection_limit if listener.connection_limit > 0 else LIMIT_SESSIONS)
        put("octavia_listener_sessions_total", own, stats["total_connections"])
        put("octavia_listener_connections_total", own, stats["total_connections"])
        put("octavia_listener_bytes_in_total", own, stats["bytes_in"])
        put("octavia_listener_bytes_out_total", own, stats["bytes_out"])
        put("octavia_listener_request_errors_total", own, stats["request_errors"])
        if http:
            put("octavia_listener_http_requests_total", own, stats["total_connections"])
            for code in CODES:
                put("octavia_listener_http_responses_total", (*own, ("code", code)),
                    _code_share(code, stats["total_connections"], stats["request_errors"]))
        for pool in fleet.listener_pools(listener):
            _pool(fleet, listener, pool, served, now, delta, http,
                  stats["active_connections"], put, count)

    put("octavia_loadbalancer_cpu", (), 5.0 + len(listeners))
    put("octavia_loadbalancer_memory", (), 23.5)
    put("octavia_loadbalancer_max_connections", (), MAX_CONNECTIONS)
    put("octavia_loadbalancer_current_connections", (), active_total)
    put("octavia_loadbalancer_connections_total", (), connections_total)
    put("octavia_loadbalancer_requests_total", (), connections_total)
    put("octavia_loadbalancer_listeners", (), len(listeners))
    out: list[str] = []
    for name, (kind, help_text) in FAMILIES.items():
        if lines[name]:
            out += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *lines[name]]
    return "\n".join(out) + "\n"


def _code_share(code: str, total: float, errors: float) -> float:
    if code == "5xx":
        return errors
    return max(0.0, total - errors) if code == "2xx" else 0.0


def _pool(fleet: Fleet, listener: Listener, pool: Pool, served: Served, now: float,
          delta: dict[str, int], http: bool, active: int,
          put: Callable[[str, Iterable[tuple[str, str]], float], None],
          count: Callable[[tuple[str, ...], float], float]) -> None:
    pool_label = ("pool", f"{pool.id}:{listener.id}")
    members = [fleet.members[m] for m in pool.member_ids if m in fleet.members]
    hm = fleet.healthmonitors.get(pool.healthmonitor_id or "")
    fall = hm.max_retries_down if hm is not None else 3
    checks = []
    for member in members:
        check = served.checks.setdefault((pool_label[1], member.id), Check(changed_at=now))
        check.observe(member_up(member), now, fall)
        checks.append(check)
    up = [m for m, c in zip(members, checks, strict=True) if c.up]
    # The backend is DOWN when no server is UP; its own downtime and transitions.
    backend = served.checks.setdefault((pool_label[1], ""), Check(changed_at=now))
    backend.observe(bool(up) or not members, now, 0)
    down_share = (len(members) - len(up)) / len(members) if members else 0.0
    weights = [m.weight if c.up else 0 for m, c in zip(members, checks, strict=True)]
    queue_time = down_share * listener.timeout_member_connect / 1000.0 if up else 0.0

    put("octavia_pool_status", (pool_label,), 1 if backend.up else 0)
    put("octavia_pool_current_sessions", (pool_label,), active)
    put("octavia_pool_current_queue", (pool_label,), round(active * down_share))
    totals = {stat: count(("pool", pool_label[1], stat), delta[stat]) for stat in SHARED}
    put("octavia_pool_sessions_total", (pool_label,), totals["sessions"])
    put("octavia_pool_bytes_in_total", (pool_label,), totals["bytes_in"])
    put("octavia_pool_bytes_out_total", (pool_label,), totals["bytes_out"])
    put("octavia_pool_queue_time_average_seconds", (pool_label,), queue_time)
    put("octavia_pool_connect_time_average_seconds", (pool_label,), CONNECT_TIME)
    put("octavia_pool_response_time_average_seconds", (pool_label,), RESPONSE_TIME)
    put("octavia_pool_total_time_average_seconds", (pool_label,),
        queue_time + CONNECT_TIME + RESPONSE_TIME)
    put("octavia_pool_active_members", (pool_label,), sum(1 for m in up if not m.backup))
    put("octavia_pool_backup_members", (pool_label,), sum(1 for m in up if m.backup))
    put("octavia_pool_check_up_down_total", (pool_label,), backend.transitions)
    put("octavia_pool_downtime_seconds_total", (pool_label,), backend.downtime_at(now))
    if http:
        for code in CODES:
            put("octavia_pool_http_responses_total", (pool_label, ("code", code)),
                _code_share(code, totals["sessions"], totals["errors"]))

    shares = {stat: _share(delta[stat], weights) for stat in SHARED}
    for i, (member, check) in enumerate(zip(members, checks, strict=True)):
        labels = (pool_label, ("member", member.id))
        mine = {stat: count(("member", pool_label[1], member.id, stat), shares[stat][i])
                for stat in SHARED}
        put("octavia_member_status", labels, 1 if check.up else 0)
        put("octavia_member_current_sessions", labels,
            round(active * weights[i] / sum(weights)) if sum(weights) else 0)
        put("octavia_member_sessions_total", labels, mine["sessions"])
        put("octavia_member_bytes_in_total", labels, mine["bytes_in"])
        put("octavia_member_bytes_out_total", labels, mine["bytes_out"])
        put("octavia_member_response_time_average_seconds", labels,
            RESPONSE_TIME if check.up else 0.0)
        put("octavia_member_weight", labels, member.weight if check.up else 0)
        put("octavia_member_check_failures_total", labels, check.failures)
        put("octavia_member_check_up_down_total", labels, check.transitions)
        put("octavia_member_downtime_seconds_total", labels, check.downtime_at(now))
        put("octavia_member_check_last_change_seconds", labels, int(now - check.changed_at))
        if http:
            for code in CODES:
                put("octavia_member_http_responses_total", (*labels, ("code", code)),
                    _code_share(code, mine["sessions"], mine["errors"]))
