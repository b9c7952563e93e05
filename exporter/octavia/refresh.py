"""Read one load balancer by id, when a notification says it changed.

The periodic lists stay the source of truth; this only makes a change visible sooner. A refresh
reads the load balancer, its listeners, pools and health monitors by id; its detail (members,
stats) is then read by the same per-load-balancer readers the tier-2 stream uses (fetch.py).
Amphorae and floating IPs are bulk-listed only, so they keep their last values until the next
lists. A deleted load balancer (404) is reported as None.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from exporter.model.parts import Subtree
from exporter.model.snapshot import HealthMonitor, Listener, Pool
from exporter.octavia import parse, source
from exporter.octavia.client import OctaviaClient
from exporter.octavia.errors import ApiError

T = TypeVar("T")


async def _one(client: OctaviaClient, kind: str, key: str, obj_id: str,
               build: Callable[[Any], T]) -> T:
    endpoint, path = f"{kind}/{{id}}", f"v2/lbaas/{kind}/{obj_id}"

    def unwrapped(body: Any) -> T:
        if not isinstance(body, Mapping) or key not in body:
            raise parse.ParseError(f"no '{key}' in the response")
        return build(body[key])
    # Malformed with where the object came from, for refresh_failed's log line.
    return await source.get_one(client, endpoint, path, unwrapped)


async def read_subtree(client: OctaviaClient, lb_id: str) -> Subtree | None:
    """The load balancer and its own objects as the API shows them now; None when it is gone.
    Raises ApiError (an object that cannot be parsed is `malformed`, with its URL)."""
    try:
        lb = await _one(client, "loadbalancers", "loadbalancer", lb_id, parse.loadbalancer)
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    found_listeners, found_pools = await asyncio.gather(
        asyncio.gather(*(_one(client, "listeners", "listener", x, parse.listener)
                         for x in lb.listener_ids)),
        asyncio.gather(*(_one(client, "pools", "pool", x, parse.pool) for x in lb.pool_ids)),
    )
    listeners: dict[str, Listener] = {
        x.id: dataclasses.replace(x, loadbalancer_id=lb.id) for x in found_listeners}
    pools: dict[str, Pool] = {
        x.id: dataclasses.replace(x, loadbalancer_id=lb.id) for x in found_pools}
    hm_ids = [p.healthmonitor_id for p in pools.values() if p.healthmonitor_id]
    found_hms = await asyncio.gather(
        *(_one(client, "healthmonitors", "healthmonitor", x,
               lambda raw: parse.healthmonitor(raw, pools)) for x in hm_ids))
    healthmonitors: dict[str, HealthMonitor] = {x.id: x for x in found_hms}
    return Subtree(lb, listeners, pools, healthmonitors)
