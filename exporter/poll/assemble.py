"""Snapshots composed from parts: fresh tier-1 lists with the detail still valid carried over,
the inventory read after them, a batch of per-load-balancer details merged in, one load
balancer's subtree replaced or removed.

Each function returns a new snapshot and never changes its inputs, so the published one can be
read from any thread while the next is built. A detail is applied whole (members, counters and
its timestamp together), so no published snapshot holds half of a load balancer's detail.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from exporter.model.parts import Detail, Inventory, Subtree
from exporter.model.share import kept, same
from exporter.model.snapshot import (
    FleetSnapshot,
    L7Policy,
    L7Rule,
    Member,
    Stats,
)

T = TypeVar("T")
M = TypeVar("M", bound=Mapping[Any, Any])
# Every mapping of a snapshot (the other fields are its cloud and time), and those a merge
# of tier-2 details replaces.
MAPPINGS = tuple(f.name for f in dataclasses.fields(FleetSnapshot) if f.default_factory is dict)
DETAIL = ("members", "listener_stats", "loadbalancer_stats", "amphora_stats", "detail_read_at")


def _kept_all(new: FleetSnapshot, old: FleetSnapshot, names: Sequence[str]) -> FleetSnapshot:
    changes = {name: kept(getattr(new, name), getattr(old, name)) for name in names}
    return dataclasses.replace(new, **{k: v for k, v in changes.items()
                                       if v is not getattr(new, k)})


def carry(lists: FleetSnapshot, current: FleetSnapshot | None) -> FleetSnapshot:
    """`lists` (tier 1: no members, no stats) with the detail of `current` for every object the
    lists still show. Whatever the lists no longer show vanishes at once, detail and all."""
    if current is None:
        return dataclasses.replace(lists, loadbalancer_stats=_no_listener_stats(lists, {}))
    member_ids = {mid: pool.id for pool in lists.pools.values() for mid in pool.member_ids}
    members = {k: m for k, m in current.members.items() if member_ids.get(k) == m.pool_id}
    listener_stats = {k: v for k, v in current.listener_stats.items() if k in lists.listeners}
    lb_stats = {k: v for k, v in current.loadbalancer_stats.items() if k in lists.loadbalancers}
    amphora_stats = {k: v for k, v in current.amphora_stats.items() if k[0] in lists.amphorae}
    read_at = {k: v for k, v in current.detail_read_at.items() if k in lists.loadbalancers}
    carried = dataclasses.replace(
        lists, members=members, listener_stats=listener_stats,
        loadbalancer_stats=_no_listener_stats(lists, lb_stats), amphora_stats=amphora_stats,
        detail_read_at=read_at, l7rules=rules_of(lists.l7policies, current.l7rules))
    return _kept_all(carried, current, MAPPINGS)


def inventory_of(snapshot: FleetSnapshot | None) -> Inventory:
    """What `snapshot` knew of the inventory: carried into the next lists until its own
    inventory read is in."""
    if snapshot is None:
        return Inventory()
    return Inventory(
        l7policies=snapshot.l7policies, flavors=snapshot.flavors,
        availability_zones=snapshot.availability_zones, providers=snapshot.providers,
        quota_limits=snapshot.quota_limits, quota_defaults=snapshot.quota_defaults,
        project_names=snapshot.project_names)


def with_inventory(snapshot: FleetSnapshot, inventory: Inventory) -> FleetSnapshot:
    """`snapshot` with `inventory` in place of the one it had: policies of listeners it does
    not have are dropped with their rules, and project names are kept for the projects
    something is exported for (an admin's Keystone knows every project in the cloud, most of
    which own nothing here). Unchanged parts stay the same objects."""
    before = snapshot.l7policies
    policies = {k: same(before, k, p) for k, p in inventory.l7policies.items()
                if p.listener_id in snapshot.listeners}
    wanted = ({lb.project_id for lb in snapshot.loadbalancers.values()}
              | set(inventory.quota_limits))
    names = {p: n for p, n in inventory.project_names.items() if p in wanted}
    replaced = dataclasses.replace(
        snapshot, l7policies=policies, l7rules=rules_of(policies, snapshot.l7rules),
        flavors=inventory.flavors, availability_zones=inventory.availability_zones,
        providers=inventory.providers, quota_limits=inventory.quota_limits,
        quota_defaults=inventory.quota_defaults, project_names=names)
    return _kept_all(replaced, snapshot, MAPPINGS)


def rules_of(policies: Mapping[str, L7Policy], rules: Mapping[str, L7Rule]) -> dict[str, L7Rule]:
    """The rules that `policies` still list; a rule its policy dropped vanishes at once."""
    return {k: r for k, r in rules.items()
            if (pol := policies.get(r.l7policy_id)) is not None and k in pol.rule_ids}


def _no_listener_stats(lists: FleetSnapshot, lb_stats: dict[str, Stats]) -> dict[str, Stats]:
    """No listener, no traffic: zero is known without asking."""
    with_listeners = {x.loadbalancer_id for x in lists.listeners.values()}
    for lb_id in lists.loadbalancers:
        if lb_id not in with_listeners:
            lb_stats[lb_id] = Stats()
    return lb_stats


def merge(snapshot: FleetSnapshot,
          details: Sequence[tuple[Detail, float | None]]) -> FleetSnapshot:
    """`snapshot` with each detail applied, and each load balancer's detail timestamp set to
    the paired time. Details of load balancers the snapshot no longer has are dropped."""
    live = [(d, t) for d, t in details if d.loadbalancer_id in snapshot.loadbalancers]
    if not live:
        return snapshot
    replaced = frozenset().union(*(d.member_pools for d, _ in live))
    members: dict[str, Member] = (
        {k: m for k, m in snapshot.members.items() if m.pool_id not in replaced}
        if replaced else dict(snapshot.members))
    listener_stats = dict(snapshot.listener_stats)
    lb_stats = dict(snapshot.loadbalancer_stats)
    amp_replaced = {a for d, _ in live for a in d.amphora_stats}
    amphora_stats = ({k: v for k, v in snapshot.amphora_stats.items() if k[0] not in amp_replaced}
                     if amp_replaced else dict(snapshot.amphora_stats))
    read_at = dict(snapshot.detail_read_at)
    for detail, stamp in live:
        for key, member in detail.members.items():
            if member.pool_id in snapshot.pools:
                members[key] = same(snapshot.members, key, member)
        if detail.listener_stats is not None:
            for key, row in detail.listener_stats.items():
                if key in snapshot.listeners:
                    listener_stats[key] = same(snapshot.listener_stats, key, row)
        if detail.loadbalancer_stats is not None:
            lb_stats[detail.loadbalancer_id] = same(
                snapshot.loadbalancer_stats, detail.loadbalancer_id, detail.loadbalancer_stats)
        for amp_id, rows in detail.amphora_stats.items():
            if amp_id in snapshot.amphorae:
                amphora_stats.update((k, same(snapshot.amphora_stats, k, v))
                                     for k, v in rows.items())
        if stamp is not None:
            read_at[detail.loadbalancer_id] = stamp
    merged = dataclasses.replace(
        snapshot, members=members, listener_stats=listener_stats, loadbalancer_stats=lb_stats,
        amphora_stats=amphora_stats, detail_read_at=read_at)
    return _kept_all(merged, snapshot, DETAIL)


def _keep(objects: Mapping[str, T], lb_id: str) -> dict[str, T]:
    return {k: v for k, v in objects.items() if getattr(v, "loadbalancer_id", None) != lb_id}


def without(snapshot: FleetSnapshot, lb_id: str) -> FleetSnapshot:
    """The snapshot minus one load balancer and everything that belongs to it."""
    listeners = _keep(snapshot.listeners, lb_id)
    amphorae = _keep(snapshot.amphorae, lb_id)
    policies = {k: p for k, p in snapshot.l7policies.items() if p.listener_id in listeners}
    return dataclasses.replace(
        snapshot,
        loadbalancers={k: v for k, v in snapshot.loadbalancers.items() if k != lb_id},
        listeners=listeners, pools=_keep(snapshot.pools, lb_id),
        members=_keep(snapshot.members, lb_id),
        healthmonitors=_keep(snapshot.healthmonitors, lb_id),
        listener_stats={k: v for k, v in snapshot.listener_stats.items() if k in listeners},
        loadbalancer_stats={k: v for k, v in snapshot.loadbalancer_stats.items() if k != lb_id},
        amphorae=amphorae,
        amphora_stats={k: v for k, v in snapshot.amphora_stats.items() if k[0] in amphorae},
        floating_ips=_keep(snapshot.floating_ips, lb_id),
        l7policies=policies, l7rules=rules_of(policies, snapshot.l7rules),
        detail_read_at={k: v for k, v in snapshot.detail_read_at.items() if k != lb_id})


def with_subtree(snapshot: FleetSnapshot, tree: Subtree) -> FleetSnapshot:
    """The snapshot with one load balancer's own objects replaced by `tree`; its members and
    stats are dropped where their parent is gone (its detail is merged separately)."""
    lb_id = tree.loadbalancer.id
    listeners = {**_keep(snapshot.listeners, lb_id), **tree.listeners}
    pools = {**_keep(snapshot.pools, lb_id), **tree.pools}
    member_pool = {mid: p.id for p in tree.pools.values() for mid in p.member_ids}
    members = {k: m for k, m in snapshot.members.items()
               if m.loadbalancer_id != lb_id or member_pool.get(k) == m.pool_id}
    lb_stats = dict(snapshot.loadbalancer_stats)
    if not tree.listeners:
        lb_stats[lb_id] = Stats()
    # Policies of listeners the load balancer no longer has go with them; the others are
    # refreshed by the next lists.
    policies = {k: p for k, p in snapshot.l7policies.items() if p.listener_id in listeners}
    return dataclasses.replace(
        snapshot, loadbalancer_stats=lb_stats,
        l7policies=policies, l7rules=rules_of(policies, snapshot.l7rules),
        loadbalancers={**snapshot.loadbalancers, lb_id: tree.loadbalancer},
        listeners=listeners, pools=pools, members=members,
        healthmonitors={**_keep(snapshot.healthmonitors, lb_id), **tree.healthmonitors},
        listener_stats={k: v for k, v in snapshot.listener_stats.items() if k in listeners})
