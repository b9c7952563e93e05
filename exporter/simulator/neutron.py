"""Neutron's floating IPs (``/v2.0/floatingips``), read side, for one region.

Read from openstack/neutron (``neutron/pecan_wsgi``, ``neutron/api/api_common.py``,
``neutron/db/l3_db.py``, ``etc/neutron/api-paste.ini``) and openstack/neutron-lib
(``api/definitions/l3.py``, ``db/model_query.py``):

- the version document at ``<prefix>/`` needs no token; everything under ``/v2.0`` goes through
  keystonemiddleware first (401 with its ``{"error": …}`` body, as for Octavia);
- ``GET /v2.0/floatingips[.json]`` and ``GET /v2.0/floatingips/{id}[.json]``; other paths are
  pecan 404s (``{"NeutronError": {"type": "HTTPNotFound", …}}``);
- non-admins see their own project only (the query is project-scoped, so a floating IP of
  another project is a 404 like an unknown one, and ``?project_id=<other>`` is an empty list);
- query parameters are checked in the QueryParametersHook's order: filters (``is_filter``
  attributes only: 400 otherwise), ``limit`` (an integer ≥ 0: 400 otherwise), sort keys;
- pagination (native, ``api_common.PaginationNativeHelper``): ``limit`` is capped at
  ``pagination_max_limit`` (default -1: no cap, and no limit means no pagination at all);
  the order is the requested ``sort_key``/``sort_dir`` pairs plus ``id`` ascending;
  ``marker`` is looked up by id (unknown or invisible: ignored, the page starts at the top);
  ``page_reverse=true`` (any case) gives the ``limit`` items just before the marker (or the
  last ``limit``), in forward order;
- ``floatingips_links`` is present only when there are links: ``next`` unless the page is short
  (and not reversed), ``previous`` unless the page is short and reversed — so a forward page
  always has a ``previous`` link, even the first. Links carry every query parameter of the
  request (filters and ``fields`` too) with ``marker`` replaced; ``previous`` adds
  ``page_reverse=True``, ``next`` drops it;
- ``fields=a&fields=b`` selects attributes (no comma splitting); unknown names select nothing.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from exporter.simulator import errors, views
from exporter.simulator.fleet import Fleet
from exporter.simulator.index import SortedIndex
from exporter.simulator.keystone import AuthContext, Identity
from exporter.simulator.model import (
    FloatingIP,
)
from exporter.simulator.pagination import compare, matches, sort_value, tags_match

# neutron-lib's l3 definition: attributes with is_filter (plus the standard attributes
# description and revision_number, and project_id next to tenant_id); tags come from the
# tagging extension.
FILTERS = (
    "id", "floating_ip_address", "floating_network_id", "router_id", "port_id",
    "fixed_ip_address", "tenant_id", "project_id", "status", "description", "revision_number",
)
TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")
# attributes with is_sort_key (port_id is not one)
SORT_KEYS = (
    "id", "floating_ip_address", "floating_network_id", "router_id", "fixed_ip_address",
    "tenant_id", "project_id", "status",
)
SKIPS = ("fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse")
_CORE_RESOURCES = (("network", "networks"), ("subnet", "subnets"),
                   ("subnetpool", "subnetpools"), ("port", "ports"))


@dataclass(frozen=True)
class Route:
    template: str
    action: str
    obj_id: str = ""


def _strip_json(segment: str) -> str:
    return segment[:-5] if segment.endswith(".json") else segment


def resolve(path: str) -> Route:
    """Map a path below the Neutron prefix to a route (``unmatched`` if none)."""
    if path in ("", "/"):
        return Route("/", "versions")
    parts = path.strip("/").split("/")
    if parts[0] != "v2.0":
        return Route("unmatched", "unmatched")
    rest = [_strip_json(p) for p in parts[1:]]
    if not rest:
        return Route("/v2.0", "resources" if path.endswith("/") else "unmatched")
    if rest[0] != "floatingips":
        return Route("unmatched", "unmatched")
    if len(rest) == 1:
        return Route("/v2.0/floatingips", "list")
    if len(rest) == 2:
        return Route("/v2.0/floatingips/{id}", "get", rest[1])
    return Route("unmatched", "unmatched")


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=status,
                        content_type="application/json")


def _attr(fip: FloatingIP, name: str) -> Any:
    return fip.project_id if name == "tenant_id" else getattr(fip, name)


def _last(query: MultiMapping[str], name: str) -> str | None:
    values = query.getall(name, [])
    return values[-1] if values else None


class NeutronQueryError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass
class FipQuery:
    filters: dict[str, list[str]]
    tags: dict[str, list[str]]
    limit: int | None
    marker: str | None
    page_reverse: bool
    sorts: list[tuple[str, str]]
    fields: list[str] | None


def parse_query(query: MultiMapping[str], page_cap: int | None) -> FipQuery:
    """What Neutron's QueryParametersHook makes of a list query, in its order of checks."""
    fields = [f for f in query.getall("fields", []) if f] or None
    filters: dict[str, list[str]] = {}
    tags: dict[str, list[str]] = {}
    invalid: list[str] = []
    for name in dict.fromkeys(query):  # each name once, in order of appearance
        if name in SKIPS:
            continue
        values = list(query.getall(name))  # "" is kept (empty-string-filtering)
        if name in TAG_FILTERS:
            tags[name] = [t for v in values for t in v.split(",") if t]
        elif name in FILTERS:
            filters[name] = values
        else:
            invalid.append(name)
    if invalid:
        raise NeutronQueryError("HTTPBadRequest", f"{invalid} is invalid attribute for filtering")

    raw_limit = _last(query, "limit") or "0"
    try:
        limit_value = int(raw_limit)
    except ValueError:
        limit_value = -1
    if limit_value < 0:
        raise NeutronQueryError(
            "BadRequest", f"Bad limit request: Limit must be an integer 0 or greater and not "
                          f"'{raw_limit}'.")
    if page_cap is not None and page_cap > 0:
        limit_value = min(page_cap, limit_value) or page_cap
    limit = limit_value or None
    marker = _last(query, "marker") if limit else None

    keys = [v for v in query.getall("sort_key", []) if v]
    dirs = [v for v in query.getall("sort_dir", []) if v]
    if len(keys) != len(dirs):
        raise NeutronQueryError("HTTPBadRequest",
                                "The number of sort_keys and sort_dirs must be same")
    absent = [k for k in keys if k not in SORT_KEYS]
    if absent:
        raise NeutronQueryError("HTTPBadRequest", f"{absent} is invalid attribute for sort_keys")
    bad_dirs = [d for d in dirs if d not in ("asc", "desc")]
    if bad_dirs:
        raise NeutronQueryError(
            "HTTPBadRequest", f"{bad_dirs} is invalid value for sort_dirs, valid value is "
                              "'asc' and 'desc'")
    sorts = list(zip(keys, dirs, strict=True))
    if "id" not in keys:
        sorts.append(("id", "asc"))
    return FipQuery(
        filters=filters, tags=tags, limit=limit, marker=marker,
        page_reverse=(_last(query, "page_reverse") or "False").lower() == "true",
        sorts=sorts, fields=fields,
    )


def select_fields(body: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if fields is None:
        return body
    wanted = set(fields)
    return {k: v for k, v in body.items() if k in wanted}


def pagination_links(path_url: str, query: MultiMapping[str], page_ids: list[str],
                     limit: int | None, page_reverse: bool) -> list[dict[str, str]]:
    """``api_common.get_pagination_links`` with its webob MultiDict edits of the query."""
    links: list[dict[str, str]] = []
    if not limit:
        return links
    short = len(page_ids) < limit

    def edited(marker: str | None, reverse: bool) -> str:
        pairs = list(query.items())
        for i, (k, _) in enumerate(pairs):  # MultiDict.pop drops the first one
            if k == "marker":
                del pairs[i]
                break
        if marker is not None:  # item assignment replaces every remaining one
            pairs = [(k, v) for k, v in pairs if k != "marker"] + [("marker", marker)]
        if reverse:
            pairs = [(k, v) for k, v in pairs if k != "page_reverse"] + [("page_reverse", "True")]
        else:
            for i, (k, _) in enumerate(pairs):
                if k == "page_reverse":
                    del pairs[i]
                    break
        return f"{path_url}?{urllib.parse.urlencode(pairs)}"

    if not (short and not page_reverse):
        links.append({"rel": "next", "href": edited(page_ids[-1] if page_ids else None, False)})
    if not (short and page_reverse):
        links.append({"rel": "previous",
                      "href": edited(page_ids[0] if page_ids else None, True)})
    return links


class NeutronService:
    """Neutron's floating IPs for one region: the region's fleet behind a path prefix."""

    def __init__(self, region: str, prefix: str, fleet: Fleet, identity: Identity,
                 page_cap: Callable[[], int | None], identity_uri: Callable[[], str]) -> None:
        self.region = region
        self.prefix = prefix
        self.fleet = fleet
        self.identity = identity
        self._page_cap = page_cap
        self._identity_uri = identity_uri

    async def handle(self, request: web.Request, route: Route) -> web.Response:
        if route.action == "versions":
            return self._versions(request)
        ctx = self.identity.validate(request.headers.get("X-Auth-Token"))
        if ctx is None:
            return errors.unauthorized(self._identity_uri())
        if route.action == "unmatched":
            return errors.neutron_default_error(404)
        if request.method not in ("GET", "HEAD"):
            return errors.neutron_default_error(405)
        if route.action == "resources":
            return self._resources(request)
        try:
            query = parse_query(request.query, self._page_cap())
        except NeutronQueryError as exc:
            return errors.neutron_error(400, exc.error_type, exc.message)
        if route.action == "get":
            return self._get(ctx, route.obj_id, query)
        return self._list(request, ctx, query)

    # ----- documents ------------------------------------------------------------------------
    def _versions(self, request: web.Request) -> web.Response:
        href = f"{request.scheme}://{request.host}{self.prefix}/v2.0/"
        return _json({"versions": [
            {"id": "v2.0", "status": "CURRENT", "links": [{"rel": "self", "href": href}]},
        ]})

    def _resources(self, request: web.Request) -> web.Response:
        base = f"{request.scheme}://{request.host}{request.path}"
        return _json({"resources": [
            {"name": name, "collection": collection,
             "links": [{"rel": "self", "href": base + collection}]}
            for name, collection in _CORE_RESOURCES
        ]})

    # ----- floating IPs ---------------------------------------------------------------------
    @staticmethod
    def _visible(ctx: AuthContext, fip: FloatingIP) -> bool:
        return ctx.is_admin or (ctx.project_id is not None and fip.project_id == ctx.project_id)

    def _get(self, ctx: AuthContext, fip_id: str, query: FipQuery) -> web.Response:
        fip = self.fleet.floatingips.get(fip_id)
        if fip is None or not self._visible(ctx, fip):
            return errors.neutron_error(404, "FloatingIPNotFound",
                                        f"Floating IP {fip_id} could not be found")
        body = select_fields(views.floatingip(self.fleet, fip), query.fields)
        return _json({"floatingip": body})

    def _source(self, ctx: AuthContext, query: FipQuery) -> SortedIndex:
        """The smallest index holding every candidate."""
        fleet = self.fleet
        if "port_id" in query.filters:
            ids = {i for port in query.filters["port_id"] for i in fleet.fips_by_port.get(port, [])}
            return _index_of(fleet, ids)
        if "id" in query.filters:
            return _index_of(fleet, set(query.filters["id"]))
        if not ctx.is_admin:
            return fleet.fip_project_index.get(ctx.project_id or "") or SortedIndex()
        projects = query.filters.get("project_id") or query.filters.get("tenant_id")
        if projects is not None and len(projects) == 1:
            return fleet.fip_project_index.get(projects[0]) or SortedIndex()
        return fleet.fip_index

    def _list(self, request: web.Request, ctx: AuthContext, query: FipQuery) -> web.Response:
        fleet = self.fleet
        filters = query.filters
        tags = query.tags

        def keep(fip: FloatingIP) -> bool:
            if not self._visible(ctx, fip):
                return False
            for name, values in filters.items():
                value = _attr(fip, name)
                if not any(matches(value, v) for v in values):
                    return False
            return not (tags and not tags_match(fip.tags, tags))

        marker = fleet.floatingips.get(query.marker) if query.marker else None
        if marker is not None and not self._visible(ctx, marker):
            marker = None  # the marker is fetched with the caller's (project-scoped) context
        source = self._source(ctx, query)
        limit = query.limit
        page: list[FloatingIP] = []
        if query.sorts == [("id", "asc")]:
            mkey = fleet.fip_key(marker) if marker is not None else None
            ids = (source.descending_before(mkey) if query.page_reverse
                   else source.after(mkey))
            for fip_id in ids:
                fip = fleet.floatingips[fip_id]
                if keep(fip):
                    page.append(fip)
                    if limit is not None and len(page) >= limit:
                        break
            if query.page_reverse and limit is not None:
                page.reverse()
        else:
            page = self._sorted_page(source, keep, query, marker)

        body: dict[str, Any] = {
            "floatingips": [select_fields(views.floatingip(fleet, f), query.fields)
                            for f in page],
        }
        path_url = f"{request.scheme}://{request.host}{request.path}"
        links = pagination_links(path_url, request.query, [f.id for f in page], limit,
                                 query.page_reverse)
        if links:
            body["floatingips_links"] = links
        return _json(body)

    def _sorted_page(self, source: SortedIndex, keep: Callable[[FloatingIP], bool],
                     query: FipQuery, marker: FloatingIP | None) -> list[FloatingIP]:
        """A page in a requested order: O(n log n) over the candidates (no index covers it).
        NULLs sort first ascending and last descending, as in MySQL."""
        fleet = self.fleet
        keys = query.sorts
        candidates = [fleet.floatingips[i] for i in source.after(None)]
        keyed = [(sort_value(f, keys, _attr), f) for f in candidates if keep(f)]
        for pos in range(len(keys) - 1, -1, -1):  # stable: least significant key first
            keyed.sort(key=_key_at(pos), reverse=keys[pos][1] == "desc")
        limit = query.limit
        if marker is not None:
            mkey = sort_value(marker, keys, _attr)
            want = -1 if query.page_reverse else 1
            keyed = [kv for kv in keyed if compare(kv[0], mkey, keys) == want]
        if query.page_reverse:
            if limit is None:  # reversed order, never put back (model_query.get_collection)
                return [f for _, f in reversed(keyed)]
            return [f for _, f in keyed[-limit:]]
        return [f for _, f in (keyed if limit is None else keyed[:limit])]


def _key_at(pos: int) -> Callable[[tuple[Any, FloatingIP]], Any]:
    def key(kv: tuple[Any, FloatingIP]) -> Any:
        return kv[0][pos]

    return key


def _index_of(fleet: Fleet, ids: set[str]) -> SortedIndex:
    index = SortedIndex()
    for key in sorted((0, i) for i in ids if i in fleet.floatingips):
        index.add(key)
    return index
