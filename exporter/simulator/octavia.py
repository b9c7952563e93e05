"""The Octavia v2 API, read side, for one region.

Routing, authorization and error precedence follow ``octavia/api``:
- keystonemiddleware runs first: every path but the version document at ``<prefix>/`` needs a
  valid ``X-Auth-Token`` (401 otherwise);
- ``/v2`` and ``/v2.0`` are the same; collections live under ``/v2/lbaas`` (also straight under
  ``/v2``), amphorae under ``/v2/octavia``; a trailing ``.json`` is accepted;
- get-one: 404 when unknown, then 403 when the caller may not see the owner's project;
- lists: non-admins are confined to their own project (asking for another: 403);
- amphorae are admin-only (403 for everyone else, after the 404 check on get-one);
- members of an unknown pool: a 404 raised during routing (webob-rendered).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from exporter.simulator import errors, views
from exporter.simulator.faults import list_faults
from exporter.simulator.fleet import Fleet
from exporter.simulator.index import SortedIndex
from exporter.simulator.keystone import AuthContext, Identity
from exporter.simulator.model import (
    DELETED,
    Amphora,
    AnyObject,
    L7Policy,
    LoadBalancer,
    Pool,
)
from exporter.simulator.pagination import (
    ListQuery,
    QueryError,
    custom_page,
    make_links,
    matches,
    parse_query,
    select_fields,
    tags_match,
    unsorted_page,
)
from exporter.simulator.views import JSON

# Resource names as Octavia's NotFound spells them (the DB model's class name, split).
RESOURCE_NAMES = {
    "loadbalancers": "Load Balancer",
    "listeners": "Listener",
    "pools": "Pool",
    "members": "Member",
    "healthmonitors": "Health Monitor",
    "l7policies": "L7 Policy",
    "amphorae": "Amphora",
    "l7rules": "L7 Rule",
}
ROOT_KEYS = {
    "loadbalancers": "loadbalancer",
    "listeners": "listener",
    "pools": "pool",
    "members": "member",
    "healthmonitors": "healthmonitor",
    "l7policies": "l7policy",
    "amphorae": "amphora",
    "l7rules": "rule",
}
LBAAS_KINDS = ("loadbalancers", "listeners", "pools", "healthmonitors", "l7policies")
# Collections outside the fleet's object tables (issue 14); profiles are admin-only.
CATALOG_KINDS = ("quotas", "flavors", "flavorprofiles", "availabilityzones",
                 "availabilityzoneprofiles", "providers")
CATALOG_ROOTS = {
    "flavors": ("flavor", "flavors"), "flavorprofiles": ("flavorprofile", "flavorprofiles"),
    "availabilityzones": ("availability_zone", "availability_zones"),
    "availabilityzoneprofiles": ("availability_zone_profile", "availability_zone_profiles"),
}
ADMIN_ONLY = ("flavorprofiles", "availabilityzoneprofiles")

# Filterable attributes per kind: API name -> model attribute. Octavia accepts any attribute of
# the data model (API names are translated first); these are the scalar ones.
_COMMON = {
    "id": "id", "name": "name", "provisioning_status": "provisioning_status",
    "operating_status": "operating_status", "admin_state_up": "admin_state_up",
    "enabled": "admin_state_up", "project_id": "project_id", "created_at": "created_at",
    "updated_at": "updated_at",
}
FILTERS: dict[str, dict[str, str]] = {
    "loadbalancers": _COMMON | {
        "description": "description", "provider": "provider", "flavor_id": "flavor_id",
        "availability_zone": "availability_zone", "vip_address": "vip_address",
        "vip_port_id": "vip_port_id", "vip_subnet_id": "vip_subnet_id",
        "vip_network_id": "vip_network_id", "topology": "topology",
    },
    "listeners": _COMMON | {
        "description": "description", "protocol": "protocol", "protocol_port": "protocol_port",
        "connection_limit": "connection_limit", "default_pool_id": "default_pool_id",
        "loadbalancer_id": "loadbalancer_id", "load_balancer_id": "loadbalancer_id",
        "timeout_client_data": "timeout_client_data",
        "timeout_member_connect": "timeout_member_connect",
        "timeout_member_data": "timeout_member_data",
        "timeout_tcp_inspect": "timeout_tcp_inspect",
    },
    "pools": _COMMON | {
        "description": "description", "protocol": "protocol", "lb_algorithm": "lb_algorithm",
        "loadbalancer_id": "loadbalancer_id", "load_balancer_id": "loadbalancer_id",
        "healthmonitor_id": "healthmonitor_id", "tls_enabled": "tls_enabled",
    },
    "members": _COMMON | {
        "address": "address", "ip_address": "address", "protocol_port": "protocol_port",
        "weight": "weight", "backup": "backup", "subnet_id": "subnet_id",
        "monitor_address": "monitor_address", "monitor_port": "monitor_port",
        "pool_id": "pool_id", "vnic_type": "vnic_type",
    },
    "healthmonitors": _COMMON | {
        "type": "type", "delay": "delay", "timeout": "timeout", "max_retries": "max_retries",
        "rise_threshold": "max_retries", "max_retries_down": "max_retries_down",
        "fall_threshold": "max_retries_down", "http_method": "http_method",
        "url_path": "url_path", "expected_codes": "expected_codes", "pool_id": "pool_id",
        "http_version": "http_version", "domain_name": "domain_name",
    },
    "l7policies": _COMMON | {
        "description": "description", "action": "action", "listener_id": "listener_id",
        "redirect_pool_id": "redirect_pool_id", "redirect_url": "redirect_url",
        "redirect_prefix": "redirect_prefix", "position": "position",
        "redirect_http_code": "redirect_http_code",
    },
    "l7rules": {
        "id": "id", "provisioning_status": "provisioning_status",
        "operating_status": "operating_status", "admin_state_up": "admin_state_up",
        "enabled": "admin_state_up", "project_id": "project_id", "created_at": "created_at",
        "updated_at": "updated_at", "type": "type", "compare_type": "compare_type",
        "key": "key", "value": "value", "invert": "invert", "l7policy_id": "l7policy_id",
    },
    "amphorae": {
        "id": "id", "loadbalancer_id": "loadbalancer_id", "load_balancer_id": "loadbalancer_id",
        "compute_id": "compute_id", "lb_network_ip": "lb_network_ip", "vrrp_ip": "vrrp_ip",
        "ha_ip": "ha_ip", "vrrp_port_id": "vrrp_port_id", "ha_port_id": "ha_port_id",
        "cert_expiration": "cert_expiration", "cert_busy": "cert_busy", "role": "role",
        "status": "status", "vrrp_interface": "vrrp_interface", "vrrp_id": "vrrp_id",
        "vrrp_priority": "vrrp_priority", "cached_zone": "cached_zone",
        "created_at": "created_at", "updated_at": "updated_at", "image_id": "image_id",
        "compute_flavor": "compute_flavor",
    },
}
TAGGED_KINDS = ("loadbalancers", "listeners", "pools", "members", "healthmonitors",
                "l7policies", "l7rules")


@dataclass(frozen=True)
class Route:
    """A resolved Octavia request: endpoint template, handler name and path parameters."""

    template: str
    action: str
    kind: str = ""
    obj_id: str = ""
    parent_id: str = ""


def _strip_json(segment: str) -> str:
    return segment[:-5] if segment.endswith(".json") else segment


def resolve(path: str) -> Route:
    """Map a path below the service prefix to a route (``unmatched`` if none)."""
    if path in ("", "/"):
        return Route("/", "versions")
    parts = [_strip_json(p) for p in path.strip("/").split("/")]
    if parts[0] not in ("v2", "v2.0"):
        return Route("unmatched", "unmatched")
    rest = parts[1:]
    if not rest:
        return Route("/v2", "v2")
    if rest[0] == "octavia":
        rest = rest[1:]
        if not rest:
            return Route("/v2/octavia", "v2")
        if rest[0] != "amphorae":
            return Route("unmatched", "unmatched")
        if len(rest) == 1:
            return Route("/v2/octavia/amphorae", "list", "amphorae")
        if len(rest) == 2:
            return Route("/v2/octavia/amphorae/{id}", "get", "amphorae", rest[1])
        if len(rest) == 3 and rest[2] == "stats":
            return Route("/v2/octavia/amphorae/{id}/stats", "amphora_stats", "amphorae", rest[1])
        return Route("unmatched", "unmatched")
    if rest[0] == "lbaas":
        rest = rest[1:]
        if not rest:
            return Route("/v2/lbaas", "v2")
    kind = rest[0]
    if kind in CATALOG_KINDS:
        return _catalog_route(kind, rest[1:])
    if kind not in LBAAS_KINDS:
        return Route("unmatched", "unmatched")
    base = f"/v2/lbaas/{kind}"
    if len(rest) == 1:
        return Route(base, "list", kind)
    obj_id = rest[1]
    if len(rest) == 2:
        return Route(base + "/{id}", "get", kind, obj_id)
    sub = rest[2]
    if kind == "loadbalancers" and len(rest) == 3 and sub in ("status", "statuses"):
        return Route(base + "/{id}/" + sub, "status", kind, obj_id)
    if kind in ("loadbalancers", "listeners") and len(rest) == 3 and sub == "stats":
        return Route(base + "/{id}/stats", "stats", kind, obj_id)
    if kind == "l7policies" and sub == "rules":
        if len(rest) == 3:
            return Route(base + "/{l7policy_id}/rules", "list", "l7rules", "", obj_id)
        if len(rest) == 4:
            return Route(base + "/{l7policy_id}/rules/{id}", "get", "l7rules", rest[3], obj_id)
    if kind == "pools" and sub == "members":
        if len(rest) == 3:
            return Route(base + "/{pool_id}/members", "list", "members", "", obj_id)
        if len(rest) == 4:
            return Route(base + "/{pool_id}/members/{id}", "get", "members", rest[3], obj_id)
    return Route("unmatched", "unmatched")


def _catalog_route(kind: str, rest: list[str]) -> Route:
    base = f"/v2/lbaas/{kind}"
    if not rest:
        return Route(base, "catalog_list", kind)
    if kind == "quotas":
        if len(rest) == 1:
            return Route(base + "/{project_id}", "quota_get", kind, rest[0])
        if len(rest) == 2 and rest[1] == "default":
            return Route(base + "/{project_id}/default", "quota_default", kind, rest[0])
        return Route("unmatched", "unmatched")
    if len(rest) == 1 and kind != "providers":
        return Route(base + "/{id}", "catalog_get", kind, rest[0])
    return Route("unmatched", "unmatched")


def _versions(host_url: str) -> dict[str, Any]:
    stamps = [
        "2016-12-11T00:00:00Z", "2018-04-20T00:00:00Z", "2018-07-31T00:00:00Z",
        "2018-12-18T00:00:00Z", "2018-12-19T00:00:00Z", "2019-01-21T00:00:00Z",
        "2019-01-25T00:00:00Z", "2018-01-25T12:00:00Z", "2019-02-12T00:00:00Z",
        "2019-03-04T00:00:00Z", "2019-03-05T00:00:00Z", "2019-06-24T00:00:00Z",
        "2019-09-11T00:00:00Z", "2019-09-13T00:00:00Z", "2019-11-10T00:00:00Z",
        "2020-03-10T00:00:00Z", "2020-03-15T00:00:00Z", "2020-04-29T00:00:00Z",
        "2020-04-29T01:00:00Z", "2020-05-12T00:00:00Z", "2020-08-02T00:00:00Z",
        "2020-09-03T00:00:00Z", "2020-09-04T00:00:00Z", "2020-09-07T00:00:00Z",
        "2020-10-15T00:00:00Z", "2021-10-02T00:00:00Z", "2022-08-29T00:00:00Z",
        "2023-05-05T00:00:00Z", "2023-11-08T00:00:00Z", "2024-10-15T00:00:00Z",
        "2025-02-26T00:00:00Z",
    ]
    last = len(stamps) - 1
    return {
        "versions": [
            {
                "id": f"v2.{minor}",
                "status": "CURRENT" if minor == last else "SUPPORTED",
                "updated": stamp,
                "links": [{"href": f"{host_url}v2", "rel": "self"}],
            }
            for minor, stamp in enumerate(stamps)
        ]
    }


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=status,
                        content_type="application/json")


class OctaviaService:
    """Octavia for one region: a fleet behind a path prefix."""

    def __init__(self, region: str, prefix: str, fleet: Fleet, identity: Identity,
                 page_cap: Callable[[], int], identity_uri: Callable[[], str]) -> None:
        self.region = region
        self.prefix = prefix
        self.fleet = fleet
        self.identity = identity
        self._page_cap = page_cap
        self._identity_uri = identity_uri

    # ----- entry point ----------------------------------------------------------------------
    async def handle(self, request: web.Request, route: Route) -> web.Response:
        if route.action == "versions" and request.path.endswith("/"):
            # the only path keystonemiddleware lets through without a token
            return self._versions_response(request)
        ctx = self.identity.validate(request.headers.get("X-Auth-Token"))
        if ctx is None:
            return errors.unauthorized(self._identity_uri())
        if route.action == "versions":
            return self._versions_response(request)
        if route.action == "unmatched":
            return errors.webob_not_found()
        if request.method not in ("GET", "HEAD"):
            return errors.webob_method_not_allowed()
        if route.action == "v2":
            return _json("v2")
        try:
            query = parse_query(request.query, self._page_cap())
        except QueryError as exc:
            return self._query_error(exc)
        try:
            if route.action == "list":
                return self._list(request, ctx, route, query)
            if route.action == "get":
                return self._get(ctx, route, query)
            if route.action == "status":
                return self._status(ctx, route)
            if route.action == "stats":
                return self._stats(ctx, route)
            if route.action == "amphora_stats":
                return self._amphora_stats(ctx, route)
            if route.action in ("catalog_list", "catalog_get", "quota_get", "quota_default"):
                return self._catalog(request, ctx, route, query)
        except QueryError as exc:
            return self._query_error(exc)
        return errors.webob_not_found()

    @staticmethod
    def _query_error(exc: QueryError) -> web.Response:
        if exc.webob:
            # raised in QueryParametersHook, before WSME: Octavia 19 answers this body (checked
            # by tests/integration/test_feed_contract.py), not webob's HTML-ish message
            return _json({"code": 400, "title": "Bad Request", "description": exc.message},
                         status=400)
        return errors.wsme_error(400, exc.message)

    def _versions_response(self, request: web.Request) -> web.Response:
        host_url = f"{request.scheme}://{request.host}{self.prefix}/"
        return _json(_versions(host_url))

    # ----- authorization --------------------------------------------------------------------
    @staticmethod
    def _may_read(ctx: AuthContext, project_id: str | None) -> bool:
        if ctx.is_admin:
            return True
        return project_id is not None and project_id == ctx.project_id and bool(
            {"member", "reader"} & set(ctx.roles)
        )

    # ----- get one --------------------------------------------------------------------------
    def _get(self, ctx: AuthContext, route: Route, query: ListQuery) -> web.Response:
        kind = route.kind
        if kind == "members" and route.parent_id not in self.fleet.pools:
            return errors.webob_api_error(404, f"Pool {route.parent_id} not found.")
        if kind == "l7rules" and route.parent_id not in self.fleet.l7policies:
            return errors.not_found("L7 Policy", route.parent_id)
        obj = self.fleet.table(kind).get(route.obj_id)
        if obj is None or _hidden(kind, obj):
            return errors.not_found(RESOURCE_NAMES[kind], route.obj_id)
        if kind == "amphorae":
            if not ctx.is_admin:
                return errors.policy_forbidden()
        elif not self._may_read(ctx, self.fleet.project_of(kind, obj)):
            return errors.policy_forbidden()
        if kind == "members" and getattr(obj, "pool_id", None) != route.parent_id:
            return errors.not_found("Member", route.obj_id)
        if kind == "l7rules" and getattr(obj, "l7policy_id", None) != route.parent_id:
            return errors.not_found("L7 Rule", route.obj_id)
        body = select_fields(views.view(self.fleet, kind, obj), query.fields)
        return _json({ROOT_KEYS[kind]: body})

    # ----- lists ----------------------------------------------------------------------------
    def _list(self, request: web.Request, ctx: AuthContext, route: Route,
              query: ListQuery) -> web.Response:
        kind = route.kind
        fleet = self.fleet
        scope_project: str | None = None
        pool: Pool | None = None
        policy: L7Policy | None = None
        if kind == "l7rules":
            policy = fleet.l7policies.get(route.parent_id)
            if policy is None:
                return errors.not_found("L7 Policy", route.parent_id)
            if not self._may_read(ctx, policy.project_id):
                return errors.policy_forbidden()
        elif kind == "members":
            pool = fleet.pools.get(route.parent_id)
            if pool is None:
                return errors.webob_api_error(404, f"Pool {route.parent_id} not found.")
            if not self._may_read(ctx, pool.project_id):
                return errors.policy_forbidden()
        elif kind == "amphorae":
            if not ctx.is_admin:
                return errors.policy_forbidden()
        else:
            requested = query.filters.get("project_id")
            if not ctx.is_admin:
                scope_project = requested or ctx.project_id
                if scope_project is None or not self._may_read(ctx, scope_project):
                    return errors.policy_forbidden()
            else:
                scope_project = requested

        allowed = FILTERS[kind]
        filters: list[tuple[str, str]] = []
        amp_project: str | None = None
        for name, value in query.filters.items():
            if kind == "amphorae" and name == "project_id":
                amp_project = value
                continue
            if name not in allowed:
                raise QueryError("One or more arguments are either duplicate or invalid",
                                 webob=False)
            filters.append((allowed[name], value))
        if query.tags and kind not in TAGGED_KINDS:
            raise QueryError("One or more arguments are either duplicate or invalid",
                             webob=False)

        def keep(obj: Any) -> bool:
            if _hidden(kind, obj):
                return False
            if scope_project is not None and fleet.project_of(kind, obj) != scope_project:
                return False
            for attr, value in filters:
                if not matches(getattr(obj, attr), value):
                    return False
            if amp_project is not None and fleet.project_of(kind, obj) != amp_project:
                return False
            return not (query.tags and not tags_match(obj.tags, query.tags))

        # Octavia checks filters, then sort keys, then the marker
        sortable = FILTERS[kind]
        for key, _ in query.sort_keys:
            if key not in sortable:
                raise QueryError(f"Supplied sort key '{key}' is not valid.", webob=False)
        unordered = False
        if query.asked_keys:
            for fault in list_faults():
                fault.hits += 1
                if fault.kind == "sort_refused":
                    raise QueryError(f"Supplied sort key '{query.asked_keys[0][0]}' is not "
                                     "valid.", webob=False)
                unordered = True

        table = fleet.table(kind)
        marker_obj = None
        if query.marker is not None:
            marker_obj = table.get(query.marker)
            if marker_obj is None:
                raise QueryError(
                    f"Supplied pagination marker '{query.marker}' is not valid.", webob=False)

        source = self._source(kind, scope_project, dict(filters), pool, policy)
        page: list[AnyObject]
        if unordered:
            page = unsorted_page(
                (o for o in (table[i] for i in source.after(None)) if keep(o)), query,
                lambda o, k: getattr(o, sortable[k]), marker_obj)
        elif query.default_order:
            page = []
            if marker_obj is None:
                ids = source.after(None)
            elif query.page_reverse:
                ids = source.before(fleet.key(marker_obj))
            else:
                ids = source.after(fleet.key(marker_obj))
            for obj_id in ids:
                obj = table[obj_id]
                if keep(obj):
                    page.append(obj)
                    if query.limit is not None and len(page) >= query.limit:
                        break
        else:
            candidates = (table[i] for i in source.after(None))
            page = custom_page(
                (o for o in candidates if keep(o)), query,
                lambda o, k: getattr(o, sortable[k]), marker_obj,
            )

        request["sim_items"] = len(page)  # what the capacity model charges a list page for
        path_url = f"{request.scheme}://{request.host}{request.path}"
        root = "rules" if kind == "l7rules" else kind  # L7RulesRootResponse
        body = {
            root: [select_fields(views.view(fleet, kind, o), query.fields) for o in page],
            f"{root}_links": make_links(path_url, query, [o.id for o in page]),
        }
        return _json(body)

    def _source(self, kind: str, project: str | None, filters: dict[str, str],
                pool: Pool | None, policy: L7Policy | None = None) -> SortedIndex:
        """The smallest index that holds every candidate of a list query."""
        fleet = self.fleet
        if pool is not None:
            return _index_of(fleet, [fleet.members[m] for m in pool.member_ids])
        if policy is not None:
            return _index_of(fleet, [fleet.l7rules[r] for r in policy.rule_ids
                                     if r in fleet.l7rules])
        lb_id = filters.get("loadbalancer_id")
        if lb_id is not None and kind in ("listeners", "pools", "amphorae"):
            lb = fleet.loadbalancers.get(lb_id)
            if lb is None:
                return SortedIndex()
            ids = {"listeners": lb.listener_ids, "pools": lb.pool_ids,
                   "amphorae": lb.amphora_ids}[kind]
            table = fleet.table(kind)
            return _index_of(fleet, [table[i] for i in ids if i in table])
        if kind == "l7policies" and "listener_id" in filters:
            listener = fleet.listeners.get(filters["listener_id"])
            if listener is None:
                return SortedIndex()
            return _index_of(fleet, [fleet.l7policies[i] for i in listener.l7policy_ids])
        if project is not None and kind in fleet.project_index:
            return fleet.project_index[kind].get(project) or SortedIndex()
        return fleet.index[kind]

    # ----- status and statistics ------------------------------------------------------------
    def _lb_for(self, ctx: AuthContext, lb_id: str) -> LoadBalancer | web.Response:
        lb = self.fleet.loadbalancers.get(lb_id)
        if lb is None:
            return errors.not_found("Load Balancer", lb_id)
        if not self._may_read(ctx, lb.project_id):
            return errors.policy_forbidden()
        return lb

    def _status(self, ctx: AuthContext, route: Route) -> web.Response:
        lb = self._lb_for(ctx, route.obj_id)
        if isinstance(lb, web.Response):
            return lb
        return _json(views.status_tree(self.fleet, lb))

    def _stats(self, ctx: AuthContext, route: Route) -> web.Response:
        if route.kind == "loadbalancers":
            lb = self._lb_for(ctx, route.obj_id)
            if isinstance(lb, web.Response):
                return lb
            return _json({"stats": self.fleet.loadbalancer_stats(lb)})
        listener = self.fleet.listeners.get(route.obj_id)
        if listener is None:
            return errors.not_found("Listener", route.obj_id)
        if not self._may_read(ctx, listener.project_id):
            return errors.policy_forbidden()
        return _json({"stats": self.fleet.listener_stats(listener.id)})

    def _catalog(self, request: web.Request, ctx: AuthContext, route: Route,
                 query: ListQuery) -> web.Response:
        kind = route.kind
        fleet = self.fleet
        if kind in ADMIN_ONLY and not ctx.is_admin:
            return errors.policy_forbidden()
        if kind == "quotas":
            if route.action == "catalog_list":
                wanted = query.filters.get("project_id")
                if not ctx.is_admin:
                    wanted = wanted or ctx.project_id
                    if not self._may_read(ctx, wanted):
                        return errors.policy_forbidden()
                rows = [(k, b) for k, b in _Catalog.rows(fleet, kind)
                        if wanted is None or k == wanted]
                return self._catalog_page(request, query, kind, rows)
            if not self._may_read(ctx, route.obj_id):
                return errors.policy_forbidden()
            limits: dict[str, int | None] = dict(
                fleet.quota_defaults if route.action == "quota_default"
                else fleet.quota_of(route.obj_id))
            return _json({"quota": views.quota(route.obj_id, limits)})
        if not self._may_read(ctx, ctx.project_id):
            return errors.policy_forbidden()
        rows = _Catalog.rows(fleet, kind)
        if route.action == "catalog_get":
            found = [b for k, b in rows if k == route.obj_id]
            if not found:
                return errors.not_found(kind[:-1].capitalize(), route.obj_id)
            return _json({CATALOG_ROOTS[kind][0]: select_fields(found[0], query.fields)})
        if kind == "providers":
            # not paginated: every enabled driver at once, no links
            return _json({"providers": [select_fields(b, query.fields) for _, b in rows]})
        return self._catalog_page(request, query, kind, rows)

    @staticmethod
    def _catalog_page(request: web.Request, query: ListQuery, kind: str,
                      rows: list[tuple[str, JSON]]) -> web.Response:
        keys = [k for k, _ in rows]
        start = 0
        if query.marker is not None:
            if query.marker not in keys:
                raise QueryError(
                    f"Supplied pagination marker '{query.marker}' is not valid.", webob=False)
            start = keys.index(query.marker) + 1
        end = len(rows) if query.limit is None else start + query.limit
        page = rows[start:end]
        root = CATALOG_ROOTS.get(kind, (kind[:-1], kind))[1]
        # Octavia names the profile lists' links after the singular (flavorprofile_links)
        links_key = {"flavorprofiles": "flavorprofile_links",
                     "availabilityzoneprofiles": "availability_zone_profile_links"}.get(
                         kind, f"{root}_links")
        path_url = f"{request.scheme}://{request.host}{request.path}"
        return _json({
            root: [select_fields(b, query.fields) for _, b in page],
            links_key: make_links(path_url, query, [k for k, _ in page]),
        })

    def _amphora_stats(self, ctx: AuthContext, route: Route) -> web.Response:
        if not ctx.is_admin:
            return errors.policy_forbidden()
        amp: Amphora | None = self.fleet.amphorae.get(route.obj_id)
        if amp is not None and _hidden("amphorae", amp):
            amp = None
        rows = self.fleet.amphora_stats_rows(amp) if amp is not None else []
        if amp is None or not rows:
            return errors.not_found("Amphora stats for", route.obj_id)
        return _json({
            "amphora_stats": [views.amphora_stats_row(self.fleet, amp, r) for r in rows]
        })


def _hidden(kind: str, obj: Any) -> bool:
    """A DELETED amphora stays in the table until housekeeping purges it, but Octavia's API
    reads amphorae with show_deleted=False: the lists leave it out and a read by id is 404."""
    return kind == "amphorae" and getattr(obj, "status", None) == DELETED


class _Catalog:
    """Quotas, flavors, zones, providers and profiles, policy-enforced like octavia/policies:
    quotas readable by an admin (any project) or a member/reader of the project; flavors,
    zones and providers by any member/reader; profiles by admins only."""

    @staticmethod
    def rows(fleet: Fleet, kind: str) -> list[tuple[str, JSON]]:
        """(marker, body) in the list's order."""
        if kind == "quotas":
            return [(p, views.quota(p, dict(fleet.quotas[p]))) for p in sorted(fleet.quotas)]
        if kind == "flavors":
            return [(f.id, views.flavor(f)) for f in sorted(fleet.flavors.values(),
                                                             key=lambda f: f.id)]
        if kind == "flavorprofiles":
            return [(f.id, views.flavorprofile(f)) for f in sorted(
                fleet.flavor_profiles.values(), key=lambda f: f.id)]
        if kind == "availabilityzones":
            return [(z.name, views.availability_zone(z)) for z in sorted(
                fleet.availability_zones.values(), key=lambda z: z.name)]
        if kind == "availabilityzoneprofiles":
            return [(z.id, views.availability_zone_profile(z)) for z in sorted(
                fleet.az_profiles.values(), key=lambda z: z.id)]
        return [(name, {"name": name, "description": text})
                for name, text in fleet.providers.items()]


def _index_of(fleet: Fleet, objs: list[Any]) -> SortedIndex:
    index = SortedIndex()
    for key in sorted(fleet.key(o) for o in objs):
        index.add(key)
    return index
