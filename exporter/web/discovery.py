"""`/discovery/prometheus-listeners`: Prometheus HTTP service discovery (`http_sd_configs`) of
the load balancers' PROMETHEUS listeners.

A PROMETHEUS listener (Octavia API 2.25) serves the amphora's HAProxy figures on the load
balancer's address and the listener's port. This endpoint lists one target per such listener,
read from each cloud's current snapshot (no API call), so that Prometheus scrapes exactly the
listeners that exist and every series it gets carries the ids that join it to our `*_info`
series.

Labels. The target labels are the ones true of every series the target serves: `cloud`,
`project_id` and `loadbalancer_id` (the proxy reports the whole load balancer, every listener
of it, not only the PROMETHEUS one). Everything else is a `__meta_octavia_*` label, which
Prometheus offers to `relabel_configs` and then drops: the PROMETHEUS listener's own id
(`listener_id` on a series would contradict its `listener` label), the names (a rename would
start new series; the names come from the `*_info` join), the statuses and both addresses.

Addresses. `?address=vip` (the default) gives `<VIP>:<port>`, for a Prometheus on a network
that reaches the VIPs (a project's own, or an operator's routed monitoring network);
`?address=floating_ip` gives `<floating IP>:<port>` and leaves out the load balancers without
one, for a Prometheus outside the tenant networks. `?cloud=<name>` keeps one cloud.

A snapshot withdrawn for staleness still lists its targets: the data plane does not depend on
the Octavia API, and an API outage is when its figures matter most.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from aiohttp import web

from exporter.model.snapshot import CloudView, FleetSnapshot, FloatingIP, Listener

PATH = "/discovery/prometheus-listeners"
PROTOCOL = "PROMETHEUS"
ADDRESS_KINDS = ("vip", "floating_ip")
META = "__meta_octavia_"


def _host_port(address: str, port: int) -> str:
    """`host:port`, an IPv6 address in brackets as Prometheus expects it."""
    try:
        if ipaddress.ip_address(address).version == 6:
            return f"[{address}]:{port}"
    except ValueError:
        pass
    return f"{address}:{port}"


def _floating_ips(snapshot: FleetSnapshot) -> dict[str, FloatingIP]:
    """Each load balancer's floating IP to scrape through: an ACTIVE one first, then the
    lowest address, so that the choice is stable while the attachments are."""
    chosen: dict[str, FloatingIP] = {}
    for fip in snapshot.floating_ips.values():
        best = chosen.get(fip.loadbalancer_id)
        if best is None or (fip.status != "ACTIVE", fip.address) < (
                best.status != "ACTIVE", best.address):
            chosen[fip.loadbalancer_id] = fip
    return chosen


def _group(snapshot: FleetSnapshot, listener: Listener, address_kind: str,
           fips: dict[str, FloatingIP]) -> dict[str, Any] | None:
    lb = snapshot.loadbalancers.get(listener.loadbalancer_id)
    if lb is None or listener.protocol_port is None:
        return None
    fip = fips.get(lb.id)
    address = lb.vip_address if address_kind == "vip" else (fip.address if fip else "")
    if not address:
        return None
    labels = {
        "cloud": snapshot.cloud,
        "project_id": listener.project_id,
        "loadbalancer_id": lb.id,
        META + "address_kind": address_kind,
        META + "listener_id": listener.id,
        META + "listener_name": listener.name,
        META + "listener_protocol_port": str(listener.protocol_port),
        META + "listener_provisioning_status": listener.provisioning_status,
        META + "listener_operating_status": listener.operating_status,
        META + "listener_admin_state_up": "true" if listener.admin_state_up else "false",
        META + "loadbalancer_name": lb.name,
        META + "loadbalancer_provisioning_status": lb.provisioning_status,
        META + "loadbalancer_operating_status": lb.operating_status,
        META + "loadbalancer_provider": lb.provider,
        META + "vip_address": lb.vip_address,
        META + "floating_ip_address": fip.address if fip else "",
        META + "project_name": snapshot.project_names.get(listener.project_id, ""),
    }
    return {"targets": [_host_port(address, listener.protocol_port)], "labels": labels}


def target_groups(views: Sequence[CloudView], address_kind: str = "vip",
                  cloud: str | None = None) -> list[dict[str, Any]]:
    """One target group per PROMETHEUS listener, by cloud then listener id."""
    groups: list[dict[str, Any]] = []
    for view in views:
        snapshot = view.snapshot
        if snapshot is None or (cloud is not None and snapshot.cloud != cloud):
            continue
        listeners = list(_prometheus_listeners(snapshot))
        fips = _floating_ips(snapshot) if listeners else {}
        for listener in listeners:
            group = _group(snapshot, listener, address_kind, fips)
            if group is not None:
                groups.append(group)
    return groups


def _prometheus_listeners(snapshot: FleetSnapshot) -> Iterator[Listener]:
    for listener_id in sorted(snapshot.listeners):
        listener = snapshot.listeners[listener_id]
        if listener.protocol.upper() == PROTOCOL:
            yield listener


def handler(views: Callable[[], Sequence[CloudView]],
            ) -> Callable[[web.Request], Any]:
    """The route's handler over `views` (the service's current snapshots)."""

    async def discover(request: web.Request) -> web.Response:
        address_kind = request.query.get("address", "vip")
        if address_kind not in ADDRESS_KINDS:
            return web.json_response(
                {"error": f"address must be one of {', '.join(ADDRESS_KINDS)}"}, status=400)
        cloud = request.query.get("cloud")
        return web.json_response(target_groups(views(), address_kind, cloud))

    return discover
