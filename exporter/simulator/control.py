"""The control API under ``/_sim/`` (a path Octavia does not use): JSON in and out, no auth.

It is how tests and demos look behind the curtain (``GET /_sim/fleet``) and pull the strings
(set fields, stats, create/delete trees, attach/detach floating IPs, step the clock, faults,
tokens, config).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import fields as dc_fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from exporter.simulator import views
from exporter.simulator.faults import Fault
from exporter.simulator.fleet import Fleet
from exporter.simulator.model import (
    FLOATINGIP_STATUSES,
    KINDS,
    STAT_FIELDS,
    Amphora,
    FloatingIP,
    LBShape,
    LoadBalancer,
    iso,
)

if TYPE_CHECKING:
    from exporter.simulator.app import Region, Simulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# fields that are structure, not state: never settable through PATCH
_READ_ONLY = {
    "id", "project_id", "loadbalancer_id", "pool_id", "listener_id", "listener_ids",
    "pool_ids", "amphora_ids", "member_ids", "l7policy_ids", "default_listener_ids",
    "redirect_l7policy_ids", "rule_ids", "created_at", "default_pool_id", "healthmonitor_id",
    "redirect_pool_id", "vip_port_id",
}
_TIME_FIELDS = {"updated_at", "cert_expiration"}
# what /_sim/fleet can list: the Octavia kinds and Neutron's floating IPs
DUMP_KINDS = (*KINDS, "floatingips")
# floating IP fields PATCH may set besides the attachment
_FIP_FIELDS = {"status", "description", "tags", "dns_name", "dns_domain", "qos_policy_id"}


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("body must be a JSON object")
    return data


def _parse_time(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).rstrip("Z")
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def dump_floatingip(fleet: Fleet, fip: FloatingIP) -> dict[str, Any]:
    """The Neutron view of a floating IP plus the load balancer it is attached to."""
    body = views.floatingip(fleet, fip)
    lb = fleet.lb_of_fip(fip)
    body["loadbalancer_id"] = lb.id if lb is not None else None
    return body


def dump_object(fleet: Fleet, kind: str, obj: Any) -> dict[str, Any]:
    """The API view of an object plus what the API leaves implicit (parents, stats)."""
    if kind == "floatingips":
        return dump_floatingip(fleet, obj)
    body = views.view(fleet, kind, obj)
    if kind == "loadbalancers":
        body["stats"] = fleet.loadbalancer_stats(obj)
        body["amphorae"] = [{"id": a} for a in obj.amphora_ids]
        body["topology"] = obj.topology
    elif kind == "listeners":
        body["loadbalancer_id"] = obj.loadbalancer_id
        body["stats"] = fleet.listener_stats(obj.id)
    elif kind == "pools":
        body["loadbalancer_id"] = obj.loadbalancer_id
    elif kind == "members":
        body["pool_id"] = obj.pool_id
        body["loadbalancer_id"] = fleet.pools[obj.pool_id].loadbalancer_id
    elif kind == "healthmonitors":
        body["pool_id"] = obj.pool_id
    elif kind == "amphorae":
        body["stats"] = [views.amphora_stats_row(fleet, obj, r)
                         for r in fleet.amphora_stats_rows(obj)]
    elif kind in ("l7policies", "l7rules"):
        lb = fleet.lb_of(kind, obj)
        body["loadbalancer_id"] = lb.id if lb is not None else None
        if kind == "l7rules":
            body["l7policy_id"] = obj.l7policy_id
            owner = fleet.l7policies.get(obj.l7policy_id)
            body["listener_id"] = owner.listener_id if owner is not None else None
    return body


def dump_fleet(region: Region, kinds: list[str] | None = None) -> dict[str, Any]:
    fleet = region.fleet
    out: dict[str, Any] = {
        "region": region.name,
        "clock": iso(fleet.clock),
        "steps": region.scenario.steps,
        "counts": fleet.counts(),
        "projects": [{"id": p.id, "name": p.name} for p in fleet.projects.values()],
    }
    if not kinds:
        out["quotas"] = {p: fleet.quota_of(p) for p in sorted(fleet.quotas)}
        out["quota_defaults"] = dict(fleet.quota_defaults)
        out["flavors"] = [views.flavor(f) for f in fleet.flavors.values()]
        out["availability_zones"] = [views.availability_zone(z)
                                     for z in fleet.availability_zones.values()]
        out["providers"] = [{"name": k, "description": v} for k, v in fleet.providers.items()]
    for kind in kinds or list(DUMP_KINDS):
        if kind == "floatingips":
            out[kind] = [dump_floatingip(fleet, fleet.floatingips[i])
                         for i in fleet.fip_index.ids()]
            continue
        table = fleet.table(kind)
        out[kind] = [dump_object(fleet, kind, table[i]) for i in fleet.index[kind].ids()]
    return out


def _set_fields(fleet: Fleet, kind: str, obj: Any, body: dict[str, Any]) -> list[str]:
    """Apply a PATCH body to an object; returns the names of the fields set."""
    names = {f.name for f in dc_fields(obj)}
    changed = []
    for key, value in body.items():
        if key == "rollup":
            continue
        if key not in names or key in _READ_ONLY:
            raise ValueError(f"{kind} field {key!r} cannot be set")
        if key in _TIME_FIELDS:
            value = _parse_time(value)
        elif key == "tags":
            if not isinstance(value, list):
                raise ValueError("tags must be a list")
        else:
            current = getattr(obj, key)
            if current is not None and value is not None and not isinstance(value, type(current)):
                raise ValueError(f"{kind} field {key!r} must be {type(current).__name__}")
        setattr(obj, key, value)
        changed.append(key)
    if "updated_at" not in body and changed:
        obj.updated_at = fleet.write_stamp()
    return changed


class ControlAPI:
    """Route table and handlers for ``/_sim/``."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/_sim/", self.index),
            ("GET", "/_sim/fleet", self.fleet),
            ("GET", "/_sim/requests", self.requests),
            ("POST", "/_sim/requests/reset", self.requests_reset),
            ("POST", "/_sim/tick", self.tick),
            ("GET", "/_sim/faults", self.get_faults),
            ("PUT", "/_sim/faults", self.put_faults),
            ("POST", "/_sim/faults", self.add_fault),
            ("DELETE", "/_sim/faults", self.clear_faults),
            ("POST", "/_sim/tokens/revoke", self.revoke_tokens),
            ("GET", "/_sim/capacity", self.get_capacity),
            ("POST", "/_sim/capacity/reset", self.reset_capacity),
            ("GET", "/_sim/config", self.get_config),
            ("PUT", "/_sim/config", self.put_config),
            ("PATCH", "/_sim/config", self.put_config),
            ("POST", "/_sim/loadbalancers", self.create_lb),
            ("DELETE", "/_sim/loadbalancers/{id}", self.delete_lb),
            ("POST", "/_sim/listeners/{id}/stats", self.listener_stats),
            ("POST", "/_sim/floatingips", self.create_fip),
            ("GET", "/_sim/floatingips/{id}", self.get_fip),
            ("PATCH", "/_sim/floatingips/{id}", self.patch_fip),
            ("POST", "/_sim/floatingips/{id}", self.patch_fip),
            ("DELETE", "/_sim/floatingips/{id}", self.delete_fip),
            ("GET", "/_sim/{kind}/{id}", self.get_object),
            ("POST", "/_sim/{kind}/{id}", self.patch_object),
            ("PATCH", "/_sim/{kind}/{id}", self.patch_object),
        ]

    def _region(self, request: web.Request) -> Region:
        name = request.query.get("region")
        if name is None:
            return self.sim.default_region
        region = self.sim.regions.get(name)
        if region is None:
            raise web.HTTPNotFound(
                text=json.dumps({"error": f"no region {name!r}"}), content_type="application/json")
        return region

    async def index(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({
            "base_url": self.sim.base_url,
            "auth_url": self.sim.auth_url,
            "regions": {name: self.sim.base_url + r.prefix for name, r in self.sim.regions.items()},
            "networking": ({name: self.sim.base_url + r.neutron_prefix
                            for name, r in self.sim.regions.items()} if self.sim.neutron else {}),
            "clouds": sorted(self.sim.clouds_yaml()["clouds"]),
            "endpoints": [f"{m} {p}" for m, p, _ in self.routes()],
        })

    async def fleet(self, request: web.Request) -> web.StreamResponse:
        kinds = request.query.get("kinds")
        selected = [k for k in kinds.split(",") if k in DUMP_KINDS] if kinds else None
        return web.json_response(dump_fleet(self._region(request), selected))

    async def requests(self, request: web.Request) -> web.StreamResponse:
        counter = self.sim.requests
        return web.json_response({"total": counter.total(), "requests": counter.to_json()})

    async def requests_reset(self, request: web.Request) -> web.StreamResponse:
        self.sim.requests.reset()
        return web.json_response({"total": 0, "requests": []})

    async def tick(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _body(request)
            steps = int(body.get("steps", 1))
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        region = self._region(request)
        reports = region.scenario.step(steps)
        return web.json_response({
            "steps": region.scenario.steps,
            "clock": iso(region.fleet.clock),
            "reports": [vars(r) for r in reports],
        })

    async def get_faults(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"faults": [f.to_json() for f in self.sim.faults.faults]})

    async def put_faults(self, request: web.Request) -> web.StreamResponse:
        try:
            raw = json.loads(await request.read() or b"[]")
            items = raw.get("faults", []) if isinstance(raw, dict) else raw
            if not isinstance(items, list):
                raise ValueError("expected a list of faults")
            faults = [Fault.from_json(item) for item in items]
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        self.sim.faults.replace(faults)
        return web.json_response({"faults": [f.to_json() for f in faults]})

    async def add_fault(self, request: web.Request) -> web.StreamResponse:
        try:
            fault = Fault.from_json(await _body(request))
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        self.sim.faults.replace([*self.sim.faults.faults, fault])
        return web.json_response({"faults": [f.to_json() for f in self.sim.faults.faults]})

    async def clear_faults(self, request: web.Request) -> web.StreamResponse:
        self.sim.faults.clear()
        return web.json_response({"faults": []})

    async def revoke_tokens(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _body(request)
        except ValueError as exc:
            return _bad(str(exc))
        token = body.get("token")
        revoked = self.sim.identity.revoke(str(token) if token else None)
        return web.json_response({"revoked": revoked})

    async def get_capacity(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.sim.capacity.to_json())

    async def reset_capacity(self, request: web.Request) -> web.StreamResponse:
        self.sim.capacity.reset_stats()
        return web.json_response(self.sim.capacity.to_json())

    async def get_config(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.sim.config_json())

    async def put_config(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await _body(request)
            self.sim.configure(**body)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        return web.json_response(self.sim.config_json())

    async def create_lb(self, request: web.Request) -> web.StreamResponse:
        region = self._region(request)
        fleet = region.fleet
        try:
            body = await _body(request)
            project = body.pop("project", None)
            if project is not None:
                found = fleet.project_by_name(str(project))
                body["project_id"] = found.id if found else fleet.add_project(str(project)).id
            allowed = {f.name for f in dc_fields(LBShape)}
            unknown = set(body) - allowed
            if unknown:
                raise ValueError(f"unknown field(s): {', '.join(sorted(unknown))}")
            shape = LBShape(**body)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        lb = fleet.create_lb_tree(shape)
        return web.json_response(self._tree_ids(fleet, lb), status=201)

    @staticmethod
    def _tree_ids(fleet: Fleet, lb: LoadBalancer) -> dict[str, Any]:
        pools = [fleet.pools[p] for p in lb.pool_ids]
        return {
            "loadbalancer": lb.id,
            "project_id": lb.project_id,
            "listeners": list(lb.listener_ids),
            "pools": list(lb.pool_ids),
            "members": [m for p in pools for m in p.member_ids],
            "healthmonitors": [p.healthmonitor_id for p in pools if p.healthmonitor_id],
            "l7policies": [i for li in lb.listener_ids for i in fleet.listeners[li].l7policy_ids],
            "amphorae": list(lb.amphora_ids),
        }

    async def delete_lb(self, request: web.Request) -> web.StreamResponse:
        region = self._region(request)
        lb_id = request.match_info["id"]
        if lb_id not in region.fleet.loadbalancers:
            return _bad(f"no load balancer {lb_id}", 404)
        region.fleet.delete_lb(lb_id)
        return web.json_response({"deleted": lb_id})

    async def listener_stats(self, request: web.Request) -> web.StreamResponse:
        region = self._region(request)
        fleet = region.fleet
        listener_id = request.match_info["id"]
        if listener_id not in fleet.listeners:
            return _bad(f"no listener {listener_id}", 404)
        try:
            body = await _body(request)
            mode = body.pop("mode", "set")
            amphora_id = body.pop("amphora_id", None)
            if mode not in ("set", "add"):
                raise ValueError("mode must be 'set' or 'add'")
            unknown = set(body) - set(STAT_FIELDS)
            if unknown:
                raise ValueError(f"unknown stat(s): {', '.join(sorted(unknown))}")
            values = {k: int(v) for k, v in body.items()}
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        rows = fleet.stats.setdefault(listener_id, {})
        row = fleet.stats_row(listener_id, amphora_id)
        if mode == "set" and amphora_id is None:
            # the listener's totals become exactly these: other rows are zeroed
            for other in rows.values():
                if other is not row:
                    for name in values:
                        setattr(other, name, 0)
        for name, value in values.items():
            setattr(row, name, value if mode == "set" else getattr(row, name) + value)
        return web.json_response({
            "listener_id": listener_id,
            "stats": fleet.listener_stats(listener_id),
            "rows": [
                {n: getattr(r, n) for n in ("listener_id", "amphora_id", *STAT_FIELDS)}
                for r in rows.values()
            ],
        })

    def _lookup(self, request: web.Request) -> tuple[Region, str, Any] | web.Response:
        region = self._region(request)
        kind = request.match_info["kind"]
        if kind not in KINDS:
            return _bad(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", 404)
        obj = region.fleet.table(kind).get(request.match_info["id"])
        if obj is None:
            return _bad(f"no {kind} {request.match_info['id']}", 404)
        return region, kind, obj

    async def get_object(self, request: web.Request) -> web.StreamResponse:
        found = self._lookup(request)
        if isinstance(found, web.Response):
            return found
        region, kind, obj = found
        return web.json_response(dump_object(region.fleet, kind, obj))

    async def patch_object(self, request: web.Request) -> web.StreamResponse:
        found = self._lookup(request)
        if isinstance(found, web.Response):
            return found
        region, kind, obj = found
        fleet = region.fleet
        try:
            body = await _body(request)
            rollup = body.get("rollup", kind == "members")
            _set_fields(fleet, kind, obj, body)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        if isinstance(obj, LoadBalancer) and "vip_address" in body:
            fleet.sync_vip_address(obj)
        if rollup and not isinstance(obj, Amphora):
            lb = fleet.lb_of(kind, obj)
            if lb is not None:
                fleet.rollup(lb)
        return web.json_response(dump_object(fleet, kind, obj))

    # ----- floating IPs ---------------------------------------------------------------------
    @staticmethod
    def _fip_target(fleet: Fleet, body: dict[str, Any]) -> tuple[bool, LoadBalancer | None]:
        """(given, load balancer) from ``loadbalancer_id`` or ``port_id`` (a VIP port) in a
        body; ``given`` is False when neither key is there. None detaches."""
        if "loadbalancer_id" in body and "port_id" in body:
            raise ValueError("give loadbalancer_id or port_id, not both")
        if "loadbalancer_id" in body:
            lb_id = body["loadbalancer_id"]
            if lb_id is None:
                return True, None
            lb = fleet.loadbalancers.get(str(lb_id))
            if lb is None:
                raise LookupError(f"no load balancer {lb_id}")
            return True, lb
        if "port_id" in body:
            port_id = body["port_id"]
            if port_id is None:
                return True, None
            lb_id = fleet.lb_by_port.get(str(port_id))
            if lb_id is None:
                raise LookupError(f"no load balancer has the VIP port {port_id}")
            return True, fleet.loadbalancers[lb_id]
        return False, None

    @staticmethod
    def _set_fip_fields(fip: FloatingIP, body: dict[str, Any]) -> None:
        for key, value in body.items():
            if key in ("loadbalancer_id", "port_id"):
                continue
            if key not in _FIP_FIELDS:
                raise ValueError(f"floatingips field {key!r} cannot be set")
            if key == "status" and value not in FLOATINGIP_STATUSES:
                raise ValueError(f"status must be one of {', '.join(FLOATINGIP_STATUSES)}")
            if key == "tags" and not (isinstance(value, list)
                                      and all(isinstance(t, str) for t in value)):
                raise ValueError("tags must be a list of strings")
            if key in ("description", "dns_name", "dns_domain") and not isinstance(value, str):
                raise ValueError(f"{key} must be a string")
            if key == "qos_policy_id" and value is not None and not isinstance(value, str):
                raise ValueError("qos_policy_id must be a string or null")
            setattr(fip, key, value)

    async def create_fip(self, request: web.Request) -> web.StreamResponse:
        """Allocate a floating IP: ``{"loadbalancer_id"|"port_id": …}`` attaches it; the
        project is the load balancer's, else ``project`` (name) / ``project_id`` / demo."""
        region = self._region(request)
        fleet = region.fleet
        try:
            body = await _body(request)
            _, lb = self._fip_target(fleet, body)
            project = body.pop("project", None)
            project_id = body.pop("project_id", None)
            address = body.pop("floating_ip_address", None)
            if project is not None:
                found = fleet.project_by_name(str(project))
                project_id = found.id if found else fleet.add_project(str(project)).id
            if project_id is None:
                demo = fleet.project_by_name("demo")
                scoped = [p for p in fleet.projects.values()
                          if p.name not in ("admin", "service")]
                project_id = (lb.project_id if lb is not None
                              else (demo or scoped[0]).id if (demo or scoped)
                              else fleet.new_hex())
            fip = fleet.add_floatingip(str(project_id), None,
                                       floating_ip_address=str(address) if address else None)
            try:
                self._set_fip_fields(fip, body)
            except ValueError:
                fleet.delete_floatingip(fip.id)
                raise
        except LookupError as exc:
            return _bad(str(exc), 404)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        if lb is not None:
            status = body.get("status")
            fleet.attach_floatingip(fip, lb, bump=False)
            fip.revision_number = 1
            if status is not None:
                fip.status = status
        return web.json_response(dump_floatingip(fleet, fip), status=201)

    def _find_fip(self, request: web.Request) -> tuple[Fleet, FloatingIP] | web.Response:
        fleet = self._region(request).fleet
        fip = fleet.floatingips.get(request.match_info["id"])
        if fip is None:
            return _bad(f"no floating IP {request.match_info['id']}", 404)
        return fleet, fip

    async def get_fip(self, request: web.Request) -> web.StreamResponse:
        found = self._find_fip(request)
        if isinstance(found, web.Response):
            return found
        return web.json_response(dump_floatingip(*found))

    async def patch_fip(self, request: web.Request) -> web.StreamResponse:
        """Attach (``{"loadbalancer_id": id}`` or ``{"port_id": vip_port_id}``), move, detach
        (either key null) and set ``status``, ``description``, ``tags``, ``dns_name``,
        ``dns_domain``, ``qos_policy_id``. The status follows the attachment (ACTIVE/DOWN)
        unless the body sets it."""
        found = self._find_fip(request)
        if isinstance(found, web.Response):
            return found
        fleet, fip = found
        try:
            body = await _body(request)
            given, lb = self._fip_target(fleet, body)
            probe = FloatingIP(**{f.name: getattr(fip, f.name) for f in dc_fields(fip)})
            self._set_fip_fields(probe, body)  # validate everything before changing anything
        except LookupError as exc:
            return _bad(str(exc), 404)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        if given:
            fleet.attach_floatingip(fip, lb)
        self._set_fip_fields(fip, body)
        if set(body) - {"loadbalancer_id", "port_id"} and not given:
            fip.updated_at = max(fleet.clock, fip.updated_at)
            fip.revision_number += 1
        return web.json_response(dump_floatingip(fleet, fip))

    async def delete_fip(self, request: web.Request) -> web.StreamResponse:
        found = self._find_fip(request)
        if isinstance(found, web.Response):
            return found
        fleet, fip = found
        fleet.delete_floatingip(fip.id)
        return web.json_response({"deleted": fip.id})
