"""Refresh one load balancer between cycles, when a notification says it changed.

The periodic cycle stays the source of truth; this only makes a change visible sooner. A refresh
reads the load balancer, its listeners, pools and health monitors by id, its status tree (for
members) and its listeners' stats, and returns the snapshot with that one subtree replaced.
Amphorae and floating IPs are bulk-listed only, so they keep their last values until the next
cycle. A deleted load balancer (404, or a delete notification) is removed at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from exporter import parse
from exporter.client import ApiError, OctaviaClient
from exporter.poller import CloudPoller, in_shard
from exporter.snapshot import (
    FleetSnapshot,
    HealthMonitor,
    Listener,
    LoadBalancer,
    Member,
    Pool,
    Stats,
)

T = TypeVar("T")


def without(snapshot: FleetSnapshot, lb_id: str) -> FleetSnapshot:
    """The snapshot minus one load balancer and everything that belongs to it."""
    return _replace_subtree(snapshot, lb_id, None)


def _keep(objects: Mapping[str, T], lb_id: str) -> dict[str, T]:
    return {k: v for k, v in objects.items() if getattr(v, "loadbalancer_id", None) != lb_id}


def _replace_subtree(snapshot: FleetSnapshot, lb_id: str,
                     fresh: dict[str, Any] | None) -> FleetSnapshot:
    loadbalancers = {k: v for k, v in snapshot.loadbalancers.items() if k != lb_id}
    listeners = _keep(snapshot.listeners, lb_id)
    pools = _keep(snapshot.pools, lb_id)
    members = _keep(snapshot.members, lb_id)
    healthmonitors = _keep(snapshot.healthmonitors, lb_id)
    listener_stats = {k: v for k, v in snapshot.listener_stats.items() if k in listeners}
    lb_stats = {k: v for k, v in snapshot.loadbalancer_stats.items() if k != lb_id}
    amphorae = dict(snapshot.amphorae)
    floating_ips = dict(snapshot.floating_ips)
    if fresh is None:
        amphorae = _keep(amphorae, lb_id)
        floating_ips = _keep(floating_ips, lb_id)
    else:
        loadbalancers[lb_id] = fresh["loadbalancer"]
        listeners.update(fresh["listeners"])
        pools.update(fresh["pools"])
        members.update(fresh["members"])
        healthmonitors.update(fresh["healthmonitors"])
        listener_stats.update(fresh["listener_stats"])
        lb_stats[lb_id] = fresh["loadbalancer_stats"]
    return dataclasses.replace(
        snapshot, loadbalancers=loadbalancers, listeners=listeners, pools=pools, members=members,
        healthmonitors=healthmonitors, listener_stats=listener_stats,
        loadbalancer_stats=lb_stats, amphorae=amphorae, floating_ips=floating_ips)


async def _one(client: OctaviaClient, kind: str, key: str, obj_id: str) -> Any:
    body = await client.get(f"{kind}/{{id}}", f"v2/lbaas/{kind}/{obj_id}")
    if not isinstance(body, Mapping) or key not in body:
        raise ApiError(f"{kind}/{{id}}", "malformed", f"no '{key}' in the response")
    return body[key]


async def refresh_loadbalancer(poller: CloudPoller, snapshot: FleetSnapshot,
                               lb_id: str) -> FleetSnapshot:
    """`snapshot` with load balancer `lb_id` as the API shows it now, read the way the poller
    reads it (the same member source and stats source). Raises ApiError."""
    client = poller.client
    if not in_shard(lb_id, poller.shard):
        return snapshot
    try:
        lb: LoadBalancer = parse.loadbalancer(
            await _one(client, "loadbalancers", "loadbalancer", lb_id))
    except ApiError as exc:
        if exc.status == 404:
            return without(snapshot, lb_id)
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
    stats_calls = (
        [client.get("listeners/{id}/stats", f"v2/lbaas/listeners/{x}/stats") for x in listeners]
        if poller.listener_stats_enabled else
        [client.get("loadbalancers/{id}/stats", f"v2/lbaas/loadbalancers/{lb.id}/stats")]
        if listeners else [])
    hm_bodies, stats_bodies, tree = await asyncio.gather(
        asyncio.gather(*(_one(client, "healthmonitors", "healthmonitor", x) for x in hm_ids)),
        asyncio.gather(*stats_calls),
        client.get("loadbalancers/{id}/status", f"v2/lbaas/loadbalancers/{lb.id}/status")
        if any(poller.reads_tree(p) for p in pools.values()) else _none(),
    )
    healthmonitors: dict[str, HealthMonitor] = {
        x.id: x for x in (parse.healthmonitor(raw, pools) for raw in hm_bodies)}
    members: dict[str, Member] = parse.status_tree_members(tree, lb) if tree else {}
    for pool in pools.values():
        if poller.reads_member_list(pool):
            raw_members = await client.list_all(
                "pools/{id}/members", f"v2/lbaas/pools/{pool.id}/members", "members")
            members.update(parse.pool_members(raw_members, pool))
    if poller.listener_stats_enabled:
        listener_stats = {lid: parse.stats(body)
                          for lid, body in zip(listeners, stats_bodies, strict=True)}
        total = sum(listener_stats.values(), Stats())
    else:
        listener_stats = {}
        total = parse.stats(stats_bodies[0]) if stats_bodies else Stats()
    return _replace_subtree(snapshot, lb.id, {
        "loadbalancer": lb, "listeners": listeners, "pools": pools, "members": members,
        "healthmonitors": healthmonitors, "listener_stats": listener_stats,
        "loadbalancer_stats": total,
    })


async def _none() -> None:
    return None
