"""One cloud's current fleet and what tier 2 knows of each load balancer in it.

The tier-1 loop swaps in lists and changes, the detail stream records what it read, the
publisher merges batches: each through this object, which keeps the snapshot and the per-load-
balancer tables (parts, applicable work, read times) in step, and counts what changed.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from exporter.model import plan
from exporter.model.parts import Delta, Detail, Subtree
from exporter.model.share import same
from exporter.model.snapshot import FleetSnapshot, Member
from exporter.poll import assemble
from exporter.poll.observe import Observer

Planned = list[tuple[tuple[int, float], plan.Work]]


class FleetState:
    def __init__(self, rules: plan.Rules, observer: Observer) -> None:
        self.rules = rules
        self.snapshot: FleetSnapshot | None = None
        self.parts: dict[str, plan.Parts] = {}
        # plan.applicable() of each, kept in step with parts: tier 2 asks it for every read.
        self.applicable: dict[str, plan.Work] = {}
        self.read: dict[str, plan.ReadTimes] = {}
        # The snapshot holds load balancers only (published while the first lists run).
        self.partial = False
        self._observer = observer

    # -- tier 1 -------------------------------------------------------------------------

    def install(self, lists: FleetSnapshot, now: float,
                batch: Callable[[FleetSnapshot], FleetSnapshot]) -> Planned:
        """Swap in complete lists with the detail still valid and `batch` (the details waiting
        to be published) merged; return tier 2's whole plan."""
        before = self.snapshot
        # Until this cycle's inventory is in, the last one's stands.
        lists = assemble.with_inventory(lists, assemble.inventory_of(before))
        if self.partial:
            before, self.partial = None, False  # the first lists, as far as events go
        new = batch(assemble.carry(lists, before))
        parts = plan.index(new)
        applicable = {k: plan.applicable(p, self.rules) for k, p in parts.items()}
        new = self._bare(new, applicable, now)
        self._observer.observe(before, new)
        previous_parts, self.parts, self.snapshot = self.parts, parts, new
        self.applicable = applicable
        for lb_id in [k for k in self.read if k not in parts]:
            del self.read[lb_id]
        return plan.plan(parts, previous_parts, self._members_of(new, parts), self.read,
                         new.detail_read_at, (), now, self.rules, applicable)

    def replan(self, now: float) -> Planned:
        """Tier 2's whole plan for the current fleet, as after lists (a new pass)."""
        if self.snapshot is None:
            return []
        return plan.plan(self.parts, self.parts, self._members_of(self.snapshot, self.parts),
                         self.read, self.snapshot.detail_read_at, (), now, self.rules,
                         self.applicable)

    def apply(self, delta: Delta, now: float) -> tuple[Planned, set[str]]:
        """Merge one round of the changes feed. Returns the plan for the load balancers it
        touched, and those whose children it cannot complete (created, or with children the
        feed has not shown: their subtree must be read by id)."""
        assert self.snapshot is not None
        before = self.snapshot
        lbs: dict[str, Any] = dict(before.loadbalancers)
        listeners: dict[str, Any] = dict(before.listeners)
        pools: dict[str, Any] = dict(before.pools)
        hms: dict[str, Any] = dict(before.healthmonitors)
        amphorae: dict[str, Any] = dict(before.amphorae)
        touched: set[str] = set()
        for key, lb in delta.loadbalancers.items():
            lbs[key] = same(lbs, key, lb)
            touched.add(key)
        children: tuple[tuple[dict[str, Any], Mapping[str, Any]], ...] = (
            (listeners, delta.listeners), (pools, delta.pools), (hms, delta.healthmonitors),
            (amphorae, delta.amphorae))
        for table, rows in children:
            for key, obj in rows.items():
                table[key] = same(table, key, obj)
                if obj.loadbalancer_id:
                    touched.add(obj.loadbalancer_id)
        for amp_id in delta.deleted_amphorae:
            gone = amphorae.pop(amp_id, None)
            if gone is not None and gone.loadbalancer_id:
                touched.add(gone.loadbalancer_id)
        incomplete: set[str] = set()
        for lb in delta.loadbalancers.values():
            # A parent row lists its children's ids: one it no longer lists is deleted.
            old = self.parts.get(lb.id)
            for lst in old.listeners if old else ():
                if lst.id not in lb.listener_ids and lst.id not in delta.listeners:
                    listeners.pop(lst.id, None)
            for pool in old.pools if old else ():
                if pool.id not in lb.pool_ids and pool.id not in delta.pools:
                    pools.pop(pool.id, None)
            if old is None or any(x not in listeners for x in lb.listener_ids) or any(
                    x not in pools for x in lb.pool_ids):
                incomplete.add(lb.id)
        if delta.pools:
            # A pool names its one health monitor: another one of that pool is deleted.
            stale = [k for k, hm in hms.items() if (owner := delta.pools.get(hm.pool_id))
                     is not None and owner.healthmonitor_id != k
                     and k not in delta.healthmonitors]
            for hm_id in stale:
                del hms[hm_id]
            incomplete.update(p.loadbalancer_id for p in delta.pools.values()
                              if p.healthmonitor_id and p.healthmonitor_id not in hms)
        lists = dataclasses.replace(
            before, taken_at=now, loadbalancers=lbs,
            listeners={k: x for k, x in listeners.items() if x.loadbalancer_id in lbs},
            pools={k: x for k, x in pools.items() if x.loadbalancer_id in lbs},
            healthmonitors={k: x for k, x in hms.items() if x.pool_id in pools},
            amphorae=amphorae,
            floating_ips=before.floating_ips if delta.floating_ips is None
            else delta.floating_ips)
        new = assemble.carry(lists, before)
        new = assemble.with_inventory(new, assemble.inventory_of(before))
        # A change the feed showed comes first: the member behind a DEGRADED pool is on
        # /metrics one status tree after the round.
        planned = [((plan.CHANGED, now), work)
                   for _, work in self._reindex(before, new, touched, now)]
        return planned, incomplete & set(lbs)

    def _reindex(self, before: FleetSnapshot, new: FleetSnapshot, lb_ids: set[str],
                 now: float) -> Planned:
        fresh = plan.index_some(new, lb_ids)
        previous = {k: self.parts[k] for k in fresh if k in self.parts}
        applicable = {k: plan.applicable(p, self.rules) for k, p in fresh.items()}
        new = self._bare(new, applicable, now)
        self._observer.observe(before, new, unknown=False)
        self.snapshot = new
        self.parts.update(fresh)
        self.applicable.update(applicable)
        for lb_id in [k for k in self.parts if k not in new.loadbalancers]:
            self._forget(lb_id)
        return plan.plan(fresh, previous, self._members_of(new, fresh), self.read,
                         new.detail_read_at, (), now, self.rules, applicable)

    # -- tier 2 and refreshes -----------------------------------------------------------

    def record(self, detail: Detail) -> tuple[bool, float | None]:
        """Note one detail read; returns whether the load balancer is still here, and the
        detail's timestamp: the oldest of its parts, None while a part was never read."""
        lb_id = detail.loadbalancer_id
        if lb_id not in self.parts:
            return False, None
        times = self.read.setdefault(lb_id, plan.ReadTimes())
        for part in detail.complete:
            setattr(times, part, detail.read_at)
        applicable = self.applicable[lb_id]
        wanted: list[float | None] = []
        if applicable.tree or applicable.member_pools:
            wanted.append(times.members)
        if applicable.stats:
            wanted.append(times.stats)
        if applicable.amphorae:
            wanted.append(times.amphorae)
        known = [t for t in wanted if t is not None]
        return True, None if len(known) < len(wanted) else min(known, default=detail.read_at)

    def remove(self, lb_id: str) -> None:
        """A load balancer the API says is gone (404)."""
        if self.snapshot is None or lb_id not in self.snapshot.loadbalancers:
            return
        before = self.snapshot
        self.snapshot = assemble.without(before, lb_id)
        self._observer.observe(before, self.snapshot, unknown=False)
        self._forget(lb_id)

    def replace(self, subtree: Subtree) -> plan.Work:
        """One load balancer's objects as read by id; returns its applicable work."""
        assert self.snapshot is not None
        before = self.snapshot
        updated = assemble.with_subtree(before, subtree)
        lb_id = subtree.loadbalancer.id
        parts = self.parts[lb_id] = plan.index_one(updated, lb_id)
        work = self.applicable[lb_id] = plan.applicable(parts, self.rules)
        self._observer.observe(before, updated, unknown=False)
        self.snapshot = updated
        return work

    def publishable(self, new: FleetSnapshot,
                    first_seen: frozenset[str] = frozenset()) -> None:
        """Swap in a snapshot built from this one (a merged batch, the inventory)."""
        before, self.snapshot = self.snapshot, new
        self._observer.observe(before, new, unknown=False, first_seen=first_seen)

    def news(self, delta: Delta) -> Delta:
        """`delta` without the rows the snapshot already holds as they are (the feed re-reads
        the rows inside its overlap every round)."""
        snapshot = self.snapshot
        if snapshot is None:
            return delta

        def new(rows: Mapping[str, Any], known: Mapping[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in rows.items() if known.get(k) != v}
        return dataclasses.replace(
            delta, loadbalancers=new(delta.loadbalancers, snapshot.loadbalancers),
            listeners=new(delta.listeners, snapshot.listeners),
            pools=new(delta.pools, snapshot.pools),
            healthmonitors=new(delta.healthmonitors, snapshot.healthmonitors),
            amphorae=new(delta.amphorae, snapshot.amphorae),
            floating_ips=None if delta.floating_ips == snapshot.floating_ips
            else delta.floating_ips,
            deleted_amphorae=frozenset(k for k in delta.deleted_amphorae
                                       if k in snapshot.amphorae),
            suspect=frozenset(k for k in delta.suspect if k in snapshot.loadbalancers))

    def _forget(self, lb_id: str) -> None:
        for table in (self.parts, self.applicable, self.read):
            table.pop(lb_id, None)

    @staticmethod
    def _bare(new: FleetSnapshot, applicable: Mapping[str, plan.Work],
              now: float) -> FleetSnapshot:
        # Nothing to read for these: their detail is complete as of the lists.
        bare = [k for k, w in applicable.items() if w.empty]
        if not bare:
            return new
        return dataclasses.replace(new, detail_read_at={
            **new.detail_read_at, **dict.fromkeys(bare, now)})

    @staticmethod
    def _members_of(snapshot: FleetSnapshot, lb_ids: Iterable[str]) -> dict[str, list[Member]]:
        wanted = set(lb_ids)
        members_of: dict[str, list[Member]] = defaultdict(list)
        for member in snapshot.members.values():
            if member.loadbalancer_id in wanted:
                members_of[member.loadbalancer_id].append(member)
        return members_of
