"""Turn Octavia API JSON into snapshot objects, tolerating what real clouds send.

Octavia's responses are not always what the api-ref says: the status tree nests
`health_monitor` where the published example says `healthmonitor`, list objects name their
parent as `loadbalancers: [{"id": ...}]`, names may be null, and a broken proxy can hand us
anything. Every function here either returns a well-typed object or raises ParseError for
the one object it could not read, so one bad object never costs the rest of the page.
"""

from __future__ import annotations

import sys
from collections.abc import Container, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, TypeGuard, TypeVar

from exporter.model import states
from exporter.model.snapshot import (
    PROBE,
    TIMEOUTS,
    Amphora,
    FloatingIP,
    HealthMonitor,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    Stats,
)


class ParseError(ValueError):
    """One object of an API response could not be understood."""


# The JSON decoder gives plain dicts; `x.__class__ is dict` is checked before isinstance(x,
# Mapping), whose ABC check is several times slower, on the paths taken once per object of a
# 10,000-load-balancer fleet (a cProfile of one pass on the simulator).
def is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    return value.__class__ is dict or isinstance(value, Mapping)


def text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if value.__class__ is str:
        return value
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return ""


# Statuses as sent, normalised: a handful of distinct values shared by hundreds of thousands of
# objects. Bounded, so an API that sends a new string in every object cannot grow it.
_STATUSES: dict[str, str] = {}
STATUS_CACHE_SIZE = 256


def status(obj: Mapping[str, Any], key: str) -> str:
    raw = obj.get(key)
    if raw.__class__ is str:
        known = _STATUSES.get(raw)
        if known is not None:
            return known
    # Interned, where the JSON decoder would allocate a fresh string for each object.
    value = text(obj, key).strip()
    normalised = sys.intern(value.upper()) if value else states.MISSING
    if raw.__class__ is str and len(_STATUSES) < STATUS_CACHE_SIZE:
        _STATUSES[raw] = normalised
    return normalised


def shared(obj: Mapping[str, Any], key: str) -> str:
    """A low-cardinality text field (project, protocol, algorithm…), interned like statuses."""
    return sys.intern(text(obj, key))


H = TypeVar("H")
# Settings tuples (timeouts, probe settings, HSTS): a few distinct values shared by most of a
# fleet, kept once. Bounded like the statuses.
_COMPACT: dict[Any, Any] = {}
COMPACT_CACHE_SIZE = 4096


def compact(value: H) -> H:
    """The one shared copy of a hashable settings value (a small tuple)."""
    known = _COMPACT.get(value)
    if known is not None:
        return known  # type: ignore[no-any-return]
    if len(_COMPACT) < COMPACT_CACHE_SIZE:
        _COMPACT[value] = value
    return value


def joined(obj: Mapping[str, Any], key: str, *, sort: bool = False) -> str:
    """A list of strings (TLS versions, ALPN protocols, CIDRs, ids) as one comma-joined label
    text, interned; "" for null, absent, empty or not a list."""
    value = obj.get(key)
    if not isinstance(value, list) or not value:
        return ""
    items = [item.strip() for item in value if isinstance(item, str) and item.strip()]
    return sys.intern(",".join(sorted(items) if sort else items))


def optional_flag(obj: Mapping[str, Any], key: str) -> bool | None:
    value = obj.get(key)
    return value if isinstance(value, bool) else None


def numbers(obj: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[int | None, ...]:
    """Integer fields as one shared tuple, None where absent, null or not a number."""
    return compact(tuple(integer(obj.get(key)) for key in keys))


def path_only(value: str) -> str:
    """A URL path without its query string or fragment, which can carry a token."""
    return sys.intern(value.split("?", 1)[0].split("#", 1)[0])


def additional_vips(value: Any) -> tuple[tuple[str, str, str], ...]:
    """`additional_vips: [{subnet_id, ip_address, port_id}]` (API 2.26) as small tuples."""
    if not isinstance(value, list):
        return ()
    found = [(text(v, "ip_address"), shared(v, "subnet_id"), text(v, "port_id"))
             for v in value if is_mapping(v)]
    return tuple(sorted(found))


NO_MONITOR = ("", "")


def monitor(raw: Mapping[str, Any]) -> tuple[str, str]:
    """A member's alternative health-check address and port, as label text ("" where unset)."""
    address, port = text(raw, "monitor_address"), text(raw, "monitor_port")
    return (address, port) if address or port else NO_MONITOR


def object_id(obj: Any) -> str:
    if not is_mapping(obj):
        raise ParseError(f"expected an object, got {type(obj).__name__}")
    value = obj.get("id")
    if not isinstance(value, str) or not value:
        raise ParseError("object without a usable 'id'")
    return value


def integer(value: Any, default: int | None = None) -> int | None:
    if value.__class__ is int:
        return value
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def counter(value: Any) -> int:
    if value.__class__ is int:
        return value if value >= 0 else 0
    number = integer(value, 0)
    return number if number is not None and number >= 0 else 0


def flag(value: Any, default: bool = True) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "up")
    return default


def timestamp(value: Any) -> float | None:
    """Octavia writes naive UTC ISO-8601 ('2026-11-26T10:00:00'); accept offsets and 'Z' too."""
    if not isinstance(value, str) or not value:
        return None
    raw = value.strip()
    if raw.endswith("Z"):
        raw = raw[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def ids(value: Any) -> tuple[str, ...]:
    """A list of `{"id": ...}` references (or bare id strings) as a tuple of ids."""
    if not isinstance(value, list):
        return ()
    found: list[str] = []
    for item in value:
        if isinstance(item, str) and item:
            found.append(item)
        elif is_mapping(item) and isinstance(item.get("id"), str) and item["id"]:
            found.append(item["id"])
    return tuple(found)


def parent_id(obj: Mapping[str, Any], single: str, plural: str) -> str:
    """Octavia lists name the parent `loadbalancers: [{"id"}]`; older docs `loadbalancer_id`."""
    direct = text(obj, single)
    if direct:
        return direct
    many = ids(obj.get(plural))
    return many[0] if many else ""


def loadbalancer(obj: Any) -> LoadBalancer:
    lb_id = object_id(obj)
    return LoadBalancer(
        id=lb_id,
        name=text(obj, "name"),
        project_id=shared(obj, "project_id") or shared(obj, "tenant_id"),
        provisioning_status=status(obj, "provisioning_status"),
        operating_status=status(obj, "operating_status"),
        admin_state_up=flag(obj.get("admin_state_up")),
        vip_address=text(obj, "vip_address"),
        vip_port_id=text(obj, "vip_port_id"),
        vip_network_id=shared(obj, "vip_network_id"),
        vip_subnet_id=shared(obj, "vip_subnet_id"),
        provider=shared(obj, "provider"),
        flavor_id=shared(obj, "flavor_id"),
        availability_zone=shared(obj, "availability_zone"),
        created_at=timestamp(obj.get("created_at")),
        updated_at=timestamp(obj.get("updated_at")),
        listener_ids=ids(obj.get("listeners")),
        pool_ids=ids(obj.get("pools")),
        vip_qos_policy_id=shared(obj, "vip_qos_policy_id"),
        vip_vnic_type=shared(obj, "vip_vnic_type"),
        vip_sg_ids=joined(obj, "vip_sg_ids", sort=True),
        additional_vips=additional_vips(obj.get("additional_vips")),
    )


def listener(obj: Any) -> Listener:
    listener_id = object_id(obj)
    limit = integer(obj.get("connection_limit"), -1)
    return Listener(
        id=listener_id,
        name=text(obj, "name"),
        project_id=shared(obj, "project_id") or shared(obj, "tenant_id"),
        loadbalancer_id=parent_id(obj, "loadbalancer_id", "loadbalancers"),
        provisioning_status=status(obj, "provisioning_status"),
        operating_status=status(obj, "operating_status"),
        admin_state_up=flag(obj.get("admin_state_up")),
        protocol=shared(obj, "protocol"),
        protocol_port=integer(obj.get("protocol_port")),
        default_pool_id=text(obj, "default_pool_id"),
        connection_limit=limit if limit is not None else -1,
        timeouts=numbers(obj, TIMEOUTS),
        allowed_cidrs=joined(obj, "allowed_cidrs", sort=True),
        tls_versions=joined(obj, "tls_versions"),
        alpn_protocols=joined(obj, "alpn_protocols"),
        hsts=compact((integer(obj.get("hsts_max_age")),
                      optional_flag(obj, "hsts_include_subdomains"),
                      optional_flag(obj, "hsts_preload"))),
    )


def pool(obj: Any) -> Pool:
    pool_id = object_id(obj)
    return Pool(
        id=pool_id,
        name=text(obj, "name"),
        project_id=shared(obj, "project_id") or shared(obj, "tenant_id"),
        loadbalancer_id=parent_id(obj, "loadbalancer_id", "loadbalancers"),
        provisioning_status=status(obj, "provisioning_status"),
        operating_status=status(obj, "operating_status"),
        admin_state_up=flag(obj.get("admin_state_up")),
        protocol=shared(obj, "protocol"),
        lb_algorithm=shared(obj, "lb_algorithm"),
        healthmonitor_id=text(obj, "healthmonitor_id"),
        listener_ids=ids(obj.get("listeners")) or ids([obj.get("listener_id")]),
        member_ids=ids(obj.get("members")),
        session_persistence=(shared(persistence, "type") if is_mapping(persistence := obj.get(
            "session_persistence")) else ""),
        tls_enabled=optional_flag(obj, "tls_enabled"),
        tls_versions=joined(obj, "tls_versions"),
        alpn_protocols=joined(obj, "alpn_protocols"),
    )


def healthmonitor(obj: Any, pools: Mapping[str, Pool]) -> HealthMonitor:
    hm_id = object_id(obj)
    pool_id = parent_id(obj, "pool_id", "pools")
    owner = pools.get(pool_id)
    return HealthMonitor(
        id=hm_id,
        name=text(obj, "name"),
        project_id=shared(obj, "project_id") or shared(obj, "tenant_id"),
        pool_id=pool_id,
        loadbalancer_id=owner.loadbalancer_id if owner else "",
        provisioning_status=status(obj, "provisioning_status"),
        operating_status=status(obj, "operating_status"),
        admin_state_up=flag(obj.get("admin_state_up")),
        monitor_type=shared(obj, "type"),
        probe=numbers(obj, PROBE),
        http_method=shared(obj, "http_method"),
        url_path=path_only(text(obj, "url_path")),
        expected_codes=shared(obj, "expected_codes"),
    )


def amphora(obj: Any, loadbalancers: Mapping[str, LoadBalancer]) -> Amphora:
    amp_id = object_id(obj)
    lb_id = text(obj, "loadbalancer_id")
    owner = loadbalancers.get(lb_id)
    return Amphora(
        id=amp_id,
        loadbalancer_id=lb_id,
        status=status(obj, "status"),
        project_id=owner.project_id if owner else "",
        compute_id=text(obj, "compute_id"),
        role=shared(obj, "role"),
        lb_network_ip=text(obj, "lb_network_ip"),
        vrrp_ip=text(obj, "vrrp_ip"),
        ha_ip=text(obj, "ha_ip"),
        image_id=shared(obj, "image_id"),
        compute_flavor=shared(obj, "compute_flavor"),
        cached_zone=shared(obj, "cached_zone"),
        cert_expiration=timestamp(obj.get("cert_expiration")),
        created_at=timestamp(obj.get("created_at")),
    )


def stats(body: Any, key: str = "stats") -> Stats:
    if not is_mapping(body) or not is_mapping(body.get(key)):
        raise ParseError(f"response has no '{key}' object")
    return stats_object(body[key])


def stats_object(raw: Mapping[str, Any]) -> Stats:
    for name in ("bytes_in", "bytes_out", "active_connections", "total_connections"):
        if name not in raw:
            raise ParseError(f"stats without '{name}'")
    return Stats(
        bytes_in=counter(raw.get("bytes_in")),
        bytes_out=counter(raw.get("bytes_out")),
        active_connections=counter(raw.get("active_connections")),
        total_connections=counter(raw.get("total_connections")),
        request_errors=counter(raw.get("request_errors")),
    )


def amphora_stats(body: Any) -> dict[str, Stats]:
    """`{"amphora_stats": [{listener_id, ...}]}` keyed by listener id."""
    if not is_mapping(body) or not isinstance(body.get("amphora_stats"), list):
        raise ParseError("response has no 'amphora_stats' list")
    rows: dict[str, Stats] = {}
    for raw in body["amphora_stats"]:
        if not is_mapping(raw):
            continue
        listener_id = text(raw, "listener_id")
        if listener_id:
            rows[listener_id] = stats_object(raw)
    return rows


def _tree_pools(node: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Pools of a status tree, wherever this Octavia version put them."""
    for lst in node.get("listeners") or ():
        if is_mapping(lst):
            for p in lst.get("pools") or ():
                if is_mapping(p):
                    yield p
    # The published api-ref example lists pools at the load-balancer level too.
    for p in node.get("pools") or ():
        if is_mapping(p):
            yield p


def status_tree_members(body: Any, lb: LoadBalancer,
                        pools: Container[str] | None = None) -> dict[str, Member]:
    """Members of one load balancer, from `GET /loadbalancers/{id}/status`; with `pools`, only
    those of these pools."""
    if not is_mapping(body):
        raise ParseError("status tree is not an object")
    statuses = body.get("statuses")
    node = statuses.get("loadbalancer") if is_mapping(statuses) else None
    if not is_mapping(node):
        raise ParseError("status tree has no 'statuses.loadbalancer'")
    members: dict[str, Member] = {}
    for p in _tree_pools(node):
        pool_id = p.get("id")
        if not isinstance(pool_id, str) or not pool_id:
            continue
        if pools is not None and pool_id not in pools:
            continue
        for raw in p.get("members") or ():
            try:
                member_id = object_id(raw)
            except ParseError:
                continue
            members[member_id] = Member(
                id=member_id,
                name=text(raw, "name"),
                project_id=lb.project_id,
                pool_id=pool_id,
                loadbalancer_id=lb.id,
                provisioning_status=status(raw, "provisioning_status"),
                operating_status=status(raw, "operating_status"),
                address=text(raw, "address"),
                protocol_port=integer(raw.get("protocol_port")),
            )
    return members


def pool_members(items: list[Any], owner: Pool) -> dict[str, Member]:
    """Members from `GET /pools/{id}/members` (pools the status tree does not show, or every
    pool with --member-details), with what only this call has: weight, admin state, backup."""
    members: dict[str, Member] = {}
    for raw in items:
        try:
            member_id = object_id(raw)
        except ParseError:
            continue
        members[member_id] = Member(
            id=member_id,
            name=text(raw, "name"),
            project_id=owner.project_id,
            pool_id=owner.id,
            loadbalancer_id=owner.loadbalancer_id,
            provisioning_status=status(raw, "provisioning_status"),
            operating_status=status(raw, "operating_status"),
            address=text(raw, "address"),
            protocol_port=integer(raw.get("protocol_port")),
            weight=integer(raw.get("weight")),
            admin_state_up=flag(raw.get("admin_state_up")) if "admin_state_up" in raw else None,
            backup=flag(raw.get("backup"), False) if "backup" in raw else None,
            monitor=monitor(raw),
        )
    return members


def floating_ip(obj: Any, loadbalancer_by_port: Mapping[str, str]) -> FloatingIP | None:
    """A Neutron floating IP, or None when it is not attached to a load balancer's VIP port."""
    fip_id = object_id(obj)
    port_id = text(obj, "port_id")
    lb_id = loadbalancer_by_port.get(port_id) if port_id else None
    if lb_id is None:
        return None
    return FloatingIP(
        id=fip_id,
        address=text(obj, "floating_ip_address"),
        loadbalancer_id=lb_id,
        status=status(obj, "status"),
        port_id=port_id,
        network_id=shared(obj, "floating_network_id"),
        project_id=shared(obj, "project_id") or shared(obj, "tenant_id"),
    )
