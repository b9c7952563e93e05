"""JSON shapes of the Octavia v2 API, as its response types render them (and Neutron's floating
IPs, see :func:`floatingip`).

Read from openstack/octavia ``octavia/api/v2/types/*.py`` (Response classes) and
``octavia/api/common/types.py``:
- every attribute of a Response class is rendered, ``None`` as ``null``; WSME leaves out only
  attributes that were never set (``healthmonitor_id`` of a pool without a monitor);
- types with ``project_id`` also carry ``tenant_id`` (a property the base type's metaclass adds);
- ``name``/``description`` of ``None`` are rendered as ``""``;
- relations in list/show responses are ``[{"id": ...}]`` lists.
"""

from __future__ import annotations

from typing import Any

from exporter.simulator.fleet import Fleet
from exporter.simulator.model import (
    Amphora,
    AvailabilityZone,
    AvailabilityZoneProfile,
    Flavor,
    FlavorProfile,
    FloatingIP,
    HealthMonitor,
    L7Policy,
    L7Rule,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    StatsRow,
    iso,
)

JSON = dict[str, Any]

TLS_PROTOCOLS = ("TERMINATED_HTTPS",)
_DEFAULT_TLS_VERSIONS = ["TLSv1.2", "TLSv1.3"]
# [api_settings] default_listener_alpn_protocols and default_pool_alpn_protocols
_DEFAULT_ALPN = ["h2", "http/1.1", "http/1.0"]
_DEFAULT_CIPHERS = (
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
)


def _ids(ids: list[str]) -> list[JSON]:
    return [{"id": i} for i in ids]


def _listed(value: list[str] | None, default: list[str] | None) -> list[str] | None:
    """A list setting as Octavia stores it: the object's own, else the configured default."""
    chosen = value if value is not None else default
    return list(chosen) if chosen is not None else None


def loadbalancer(lb: LoadBalancer) -> JSON:
    return {
        "id": lb.id,
        "name": lb.name,
        "description": lb.description,
        "provisioning_status": lb.provisioning_status,
        "operating_status": lb.operating_status,
        "admin_state_up": lb.admin_state_up,
        "project_id": lb.project_id,
        "tenant_id": lb.project_id,
        "created_at": iso(lb.created_at),
        "updated_at": iso(lb.updated_at),
        "vip_address": lb.vip_address,
        "vip_port_id": lb.vip_port_id,
        "vip_subnet_id": lb.vip_subnet_id,
        "vip_network_id": lb.vip_network_id,
        "vip_sg_ids": list(lb.vip_sg_ids),
        "additional_vips": [dict(vip) for vip in lb.additional_vips],
        "listeners": _ids(lb.listener_ids),
        "pools": _ids(lb.pool_ids),
        "provider": lb.provider,
        "flavor_id": lb.flavor_id,
        "vip_qos_policy_id": lb.vip_qos_policy_id,
        "tags": list(lb.tags),
        "availability_zone": lb.availability_zone,
        "vip_vnic_type": lb.vip_vnic_type,
    }


def listener(li: Listener) -> JSON:
    tls = li.protocol in TLS_PROTOCOLS
    return {
        "id": li.id,
        "name": li.name,
        "description": li.description,
        "provisioning_status": li.provisioning_status,
        "operating_status": li.operating_status,
        "admin_state_up": li.admin_state_up,
        "protocol": li.protocol,
        "protocol_port": li.protocol_port,
        "connection_limit": li.connection_limit,
        "default_tls_container_ref": None,
        "sni_container_refs": [],
        "project_id": li.project_id,
        "tenant_id": li.project_id,
        "default_pool_id": li.default_pool_id,
        "l7policies": _ids(li.l7policy_ids),
        "insert_headers": {},
        "created_at": iso(li.created_at),
        "updated_at": iso(li.updated_at),
        "loadbalancers": [{"id": li.loadbalancer_id}],
        "timeout_client_data": li.timeout_client_data,
        "timeout_member_connect": li.timeout_member_connect,
        "timeout_member_data": li.timeout_member_data,
        "timeout_tcp_inspect": li.timeout_tcp_inspect,
        "tags": list(li.tags),
        "client_ca_tls_container_ref": None,
        "client_authentication": "NONE",
        "client_crl_container_ref": None,
        "allowed_cidrs": list(li.allowed_cidrs) if li.allowed_cidrs else None,
        "tls_ciphers": _DEFAULT_CIPHERS if tls else None,
        # octavia/db/prepare.py fills these in for TERMINATED_HTTPS listeners only
        "tls_versions": _listed(li.tls_versions, _DEFAULT_TLS_VERSIONS if tls else None),
        "alpn_protocols": _listed(li.alpn_protocols, _DEFAULT_ALPN if tls else None),
        "hsts_max_age": li.hsts_max_age,
        "hsts_include_subdomains": li.hsts_include_subdomains,
        "hsts_preload": li.hsts_preload,
    }


def pool(fleet: Fleet, p: Pool) -> JSON:
    body: JSON = {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "provisioning_status": p.provisioning_status,
        "operating_status": p.operating_status,
        "admin_state_up": p.admin_state_up,
        "protocol": p.protocol,
        "lb_algorithm": p.lb_algorithm,
        "session_persistence": dict(p.session_persistence) if p.session_persistence else None,
        "project_id": p.project_id,
        "tenant_id": p.project_id,
        "loadbalancers": [{"id": p.loadbalancer_id}],
        "listeners": _ids(fleet.pool_listener_ids(p)),
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
        "members": _ids(p.member_ids),
        "tags": list(p.tags),
        "tls_container_ref": None,
        "ca_tls_container_ref": None,
        "crl_container_ref": None,
        "tls_enabled": p.tls_enabled,
        # octavia/db/prepare.py fills these in for a pool created with tls_enabled
        "tls_ciphers": _DEFAULT_CIPHERS if p.tls_enabled else None,
        "tls_versions": _listed(p.tls_versions,
                                _DEFAULT_TLS_VERSIONS if p.tls_enabled else None),
        "alpn_protocols": _listed(p.alpn_protocols, _DEFAULT_ALPN if p.tls_enabled else None),
    }
    if p.healthmonitor_id is not None:
        body["healthmonitor_id"] = p.healthmonitor_id
    return body


def member(m: Member) -> JSON:
    return {
        "id": m.id,
        "name": m.name,
        "operating_status": m.operating_status,
        "provisioning_status": m.provisioning_status,
        "admin_state_up": m.admin_state_up,
        "address": m.address,
        "protocol_port": m.protocol_port,
        "weight": m.weight,
        "backup": m.backup,
        "subnet_id": m.subnet_id,
        "project_id": m.project_id,
        "tenant_id": m.project_id,
        "created_at": iso(m.created_at),
        "updated_at": iso(m.updated_at),
        "monitor_address": m.monitor_address,
        "monitor_port": m.monitor_port,
        "tags": list(m.tags),
        "vnic_type": m.vnic_type,
    }


def healthmonitor(hm: HealthMonitor) -> JSON:
    return {
        "id": hm.id,
        "name": hm.name,
        "type": hm.type,
        "delay": hm.delay,
        "timeout": hm.timeout,
        "max_retries": hm.max_retries,
        "max_retries_down": hm.max_retries_down,
        "http_method": hm.http_method,
        "url_path": hm.url_path,
        "expected_codes": hm.expected_codes,
        "admin_state_up": hm.admin_state_up,
        "project_id": hm.project_id,
        "tenant_id": hm.project_id,
        "pools": [{"id": hm.pool_id}],
        "provisioning_status": hm.provisioning_status,
        "operating_status": hm.operating_status,
        "created_at": iso(hm.created_at),
        "updated_at": iso(hm.updated_at),
        "tags": list(hm.tags),
        "http_version": hm.http_version,
        "domain_name": hm.domain_name,
    }


def l7policy(p: L7Policy) -> JSON:
    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "provisioning_status": p.provisioning_status,
        "operating_status": p.operating_status,
        "admin_state_up": p.admin_state_up,
        "project_id": p.project_id,
        "tenant_id": p.project_id,
        "action": p.action,
        "listener_id": p.listener_id,
        "redirect_pool_id": p.redirect_pool_id,
        "redirect_url": p.redirect_url,
        "redirect_prefix": p.redirect_prefix,
        "position": p.position,
        "rules": _ids(p.rule_ids),
        "created_at": iso(p.created_at),
        "updated_at": iso(p.updated_at),
        "tags": list(p.tags),
        "redirect_http_code": p.redirect_http_code,
    }


def l7rule(r: L7Rule) -> JSON:
    return {
        "id": r.id,
        "type": r.type,
        "compare_type": r.compare_type,
        "key": r.key,
        "value": r.value,
        "invert": r.invert,
        "provisioning_status": r.provisioning_status,
        "operating_status": r.operating_status,
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
        "project_id": r.project_id,
        "tenant_id": r.project_id,
        "admin_state_up": r.admin_state_up,
        "tags": list(r.tags),
    }


def quota(project_id: str, limits: dict[str, int | None]) -> JSON:
    """``QuotaResponse``: the misspelled keys of Rocky are still served beside the new ones.
    List rows render the stored row (null: the project uses the default); show renders the
    row with the defaults filled in."""
    return {
        "project_id": project_id,
        "tenant_id": project_id,
        "loadbalancer": limits.get("loadbalancer"),
        "load_balancer": limits.get("loadbalancer"),
        "listener": limits.get("listener"),
        "member": limits.get("member"),
        "pool": limits.get("pool"),
        "healthmonitor": limits.get("healthmonitor"),
        "health_monitor": limits.get("healthmonitor"),
        "l7policy": limits.get("l7policy"),
        "l7rule": limits.get("l7rule"),
    }


def flavor(f: Flavor) -> JSON:
    return {"id": f.id, "name": f.name, "description": f.description, "enabled": f.enabled,
            "flavor_profile_id": f.flavor_profile_id}


def flavorprofile(fp: FlavorProfile) -> JSON:
    return {"id": fp.id, "name": fp.name, "provider_name": fp.provider_name,
            "flavor_data": fp.flavor_data}


def availability_zone(z: AvailabilityZone) -> JSON:
    return {"name": z.name, "description": z.description, "enabled": z.enabled,
            "availability_zone_profile_id": z.availability_zone_profile_id}


def availability_zone_profile(zp: AvailabilityZoneProfile) -> JSON:
    return {"id": zp.id, "name": zp.name, "provider_name": zp.provider_name,
            "availability_zone_data": zp.availability_zone_data}


def amphora(a: Amphora) -> JSON:
    return {
        "id": a.id,
        "loadbalancer_id": a.loadbalancer_id,
        "compute_id": a.compute_id,
        "lb_network_ip": a.lb_network_ip,
        "vrrp_ip": a.vrrp_ip,
        "ha_ip": a.ha_ip,
        "vrrp_port_id": a.vrrp_port_id,
        "ha_port_id": a.ha_port_id,
        "cert_expiration": iso(a.cert_expiration),
        "cert_busy": a.cert_busy,
        "role": a.role,
        "status": a.status,
        "vrrp_interface": a.vrrp_interface,
        "vrrp_id": a.vrrp_id,
        "vrrp_priority": a.vrrp_priority,
        "cached_zone": a.cached_zone,
        "created_at": iso(a.created_at),
        "updated_at": iso(a.updated_at),
        "image_id": a.image_id,
        "compute_flavor": a.compute_flavor,
    }


def view(fleet: Fleet, kind: str, obj: Any) -> JSON:
    """The list/show representation of any object."""
    if kind == "loadbalancers":
        return loadbalancer(obj)
    if kind == "listeners":
        return listener(obj)
    if kind == "pools":
        return pool(fleet, obj)
    if kind == "members":
        return member(obj)
    if kind == "healthmonitors":
        return healthmonitor(obj)
    if kind == "l7policies":
        return l7policy(obj)
    if kind == "l7rules":
        return l7rule(obj)
    return amphora(obj)


# ----- status tree ----------------------------------------------------------------------------
def status_tree(fleet: Fleet, lb: LoadBalancer) -> JSON:
    """``GET /v2/lbaas/loadbalancers/{id}/status``: listeners -> pools -> members. A pool's
    ``health_monitor`` is always there, null when it has none (Octavia's PoolStatusResponse,
    as the contract test against real Octavia showed). Pools no listener uses are not in it."""
    listeners = []
    for listener_id in lb.listener_ids:
        li = fleet.listeners[listener_id]
        pools = []
        for p in fleet.listener_pools(li):
            entry: JSON = {
                "id": p.id,
                "name": p.name or "",
                "provisioning_status": p.provisioning_status,
                "operating_status": p.operating_status,
            }
            entry["health_monitor"] = None
            if p.healthmonitor_id is not None and p.healthmonitor_id in fleet.healthmonitors:
                hm = fleet.healthmonitors[p.healthmonitor_id]
                entry["health_monitor"] = {
                    "id": hm.id,
                    "name": hm.name or "",
                    "type": hm.type,
                    "provisioning_status": hm.provisioning_status,
                    "operating_status": hm.operating_status,
                }
            entry["members"] = [
                {
                    "id": m.id,
                    "name": m.name or "",
                    "operating_status": m.operating_status,
                    "provisioning_status": m.provisioning_status,
                    "address": m.address,
                    "protocol_port": m.protocol_port,
                }
                for m in (fleet.members[mid] for mid in p.member_ids)
            ]
            pools.append(entry)
        listeners.append({
            "id": li.id,
            "name": li.name or "",
            "operating_status": li.operating_status,
            "provisioning_status": li.provisioning_status,
            "pools": pools,
        })
    return {
        "statuses": {
            "loadbalancer": {
                "id": lb.id,
                "name": lb.name or "",
                "operating_status": lb.operating_status,
                "provisioning_status": lb.provisioning_status,
                "listeners": listeners,
            }
        }
    }


def amphora_stats_row(fleet: Fleet, amp: Amphora, row: StatsRow) -> JSON:
    return {
        "active_connections": row.active_connections,
        "bytes_in": row.bytes_in,
        "bytes_out": row.bytes_out,
        "id": amp.id,
        "listener_id": row.listener_id,
        "loadbalancer_id": amp.loadbalancer_id,
        "request_errors": row.request_errors,
        "total_connections": row.total_connections,
    }


# ----- Neutron --------------------------------------------------------------------------------
def neutron_time(ts: int) -> str:
    """Neutron's standard-attribute timestamps: whole seconds and a ``Z``
    (``neutron/services/timestamp/timestamp_db.py``)."""
    return f"{iso(ts)}Z"


def vip_port_mac(port_id: str) -> str:
    """A stable ``fa:16:3e`` MAC address for a VIP port."""
    digits = port_id.replace("-", "")[-6:]
    return "fa:16:3e:" + ":".join(digits[i:i + 2] for i in range(0, 6, 2))


def floatingip(fleet: Fleet, fip: FloatingIP) -> JSON:
    """A floating IP as ``GET /v2.0/floatingips`` renders it with the extensions of a usual
    ML2/OVS or OVN deployment: ``l3_db._make_floatingip_dict`` (id … status), the standard
    attributes (description, tags, timestamps, revision_number), ``fip-port-details``
    (``port_details``: the port's name, network_id, mac_address, admin_state_up, status,
    device_id, device_owner; null when unattached), ``dns-integration`` (``dns_domain``,
    ``dns_name``: "" when unset) and ``qos-fip`` (``qos_policy_id``)."""
    port_details: JSON | None = None
    lb = fleet.lb_of_fip(fip)
    if lb is not None:
        # Octavia creates the VIP port admin-down, named after the load balancer
        # (octavia/network/drivers/neutron/allowed_address_pairs.py)
        port_details = {
            "name": f"octavia-lb-{lb.id}",
            "network_id": lb.vip_network_id,
            "mac_address": vip_port_mac(lb.vip_port_id),
            "admin_state_up": False,
            "status": "DOWN",
            "device_id": f"lb-{lb.id}",
            "device_owner": "Octavia",
        }
    return {
        "id": fip.id,
        "tenant_id": fip.project_id,
        "project_id": fip.project_id,
        "floating_ip_address": fip.floating_ip_address,
        "floating_network_id": fip.floating_network_id,
        "router_id": fip.router_id,
        "port_id": fip.port_id,
        "fixed_ip_address": fip.fixed_ip_address,
        "status": fip.status,
        "description": fip.description,
        "tags": list(fip.tags),
        "created_at": neutron_time(fip.created_at),
        "updated_at": neutron_time(fip.updated_at),
        "revision_number": fip.revision_number,
        "port_details": port_details,
        "dns_domain": fip.dns_domain,
        "dns_name": fip.dns_name,
        "qos_policy_id": fip.qos_policy_id,
    }
