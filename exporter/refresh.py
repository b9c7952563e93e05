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
from collections.abc import Mapping
from typing import Any

from exporter import parse
from exporter.assemble import Subtree
from exporter.client import ApiError, OctaviaClient
from exporter.snapshot import HealthMonitor, Listener, Pool


async def _one(client: OctaviaClient, kind: str, key: str, obj_id: str) -> Any:
    body = await client.get(f"{kind}/{{id}}", f"v2/lbaas/{kind}/{obj_id}")
    if not isinstance(body, Mapping) or key not in body:
        raise ApiError(f"{kind}/{{id}}", "malformed", f"no '{key}' in the response")
    return body[key]


async def read_subtree(client: OctaviaClient, lb_id: str) -> Subtree | None:
    """The load balancer and its own objects as the API shows them now; None when it is gone.
    Raises ApiError or parse.ParseError."""
    try:
        lb = parse.loadbalancer(await _one(client, "loadbalancers", "loadbalancer", lb_id))
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    listener_bodies, pool_bodies = await asyncio.gather(
        asyncio.gather(*(_one(client, "listeners", "listener", x) for x in lb.listener_ids)),
        asyncio.gather(*(_one(client, "pools", "pool", x) for x in lb.pool_ids)),
    )
    listeners: dict[str, Listener] = {
        x.id: dataclasses.replace(x, loadbalancer_id=lb.id)
        for x in map(parse.listener, listener_bodies)}
    pools: dict[str, Pool] = {
        x.id: dataclasses.replace(x, loadbalancer_id=lb.id) for x in map(parse.pool, pool_bodies)}
    hm_ids = [p.healthmonitor_id for p in pools.values() if p.healthmonitor_id]
    hm_bodies = await asyncio.gather(
        *(_one(client, "healthmonitors", "healthmonitor", x) for x in hm_ids))
    healthmonitors: dict[str, HealthMonitor] = {
        x.id: x for x in (parse.healthmonitor(raw, pools) for raw in hm_bodies)}
    return Subtree(lb, listeners, pools, healthmonitors)
