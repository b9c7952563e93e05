"""Operating statuses as the health manager derives them from its members, and writes them."""

from __future__ import annotations

import random
from typing import Any

from exporter.simulator.model import (
    ACTIVE,
    DEGRADED,
    ERROR,
    NO_MONITOR,
    OFFLINE,
    ONLINE,
    LoadBalancer,
    Member,
    Pool,
)
from exporter.simulator.store import Store


class Health(Store):
    """The status roll-up over a store."""

    def rollup(self, lb: LoadBalancer, members: tuple[Member, ...] = ()) -> None:
        """Recompute pool, listener and LB operating status from the members, like the
        health manager: a member in ERROR makes its pool DEGRADED (all of them: ERROR), a
        DEGRADED/ERROR pool makes its listeners and the load balancer DEGRADED. As the health
        manager, it writes (and moves updated_at of) only the rows whose status changed, in
        its order (update_health): listeners, then each pool's ``members`` (the ones whose
        change this is) and the pool, the load balancer last."""
        listeners = [self.listeners[x] for x in lb.listener_ids]
        pools = [self.pools[p] for p in lb.pool_ids]
        rows: list[Any] = [*listeners, *pools, lb]
        before = [row.operating_status for row in rows]
        self._rollup(lb)
        changed = {id(row) for row, old in zip(rows, before, strict=True)
                   if row.operating_status != old}
        ordered: list[Any] = [x for x in listeners if id(x) in changed]
        ordered += list(members)
        ordered += [p for p in pools if id(p) in changed]
        ordered += [lb] if id(lb) in changed else []
        if self.stamping:
            for row in ordered:
                row.updated_at = self.write_stamp()

    def health_write(self, rng: random.Random) -> Member | None:
        """One status change as the health manager writes it from a heartbeat: a monitored
        member of an ACTIVE load balancer flips between ONLINE and ERROR, and the listeners,
        pool and load balancer whose status that changes roll up; every row written is
        stamped after the last (``rollup``). A few draws at most (O(1)); None when none was
        found."""
        index = self.index["members"]
        if not len(index):
            return None
        for _ in range(8):
            member = self.members[index.id_at(rng.randrange(len(index)))]
            pool = self.pools.get(member.pool_id)
            lb = self.loadbalancers.get(pool.loadbalancer_id) if pool is not None else None
            if (pool is None or lb is None or not pool.healthmonitor_id
                    or lb.provisioning_status != ACTIVE or not member.admin_state_up
                    or member.operating_status not in (ONLINE, ERROR)):
                continue
            member.operating_status = ERROR if member.operating_status == ONLINE else ONLINE
            self.rollup(lb, (member,))
            return member
        return None

    def _rollup(self, lb: LoadBalancer) -> None:
        bad_pools: set[str] = set()
        for pool_id in lb.pool_ids:
            pool = self.pools[pool_id]
            pool.operating_status = self._pool_status(pool)
            if pool.operating_status in (ERROR, DEGRADED):
                bad_pools.add(pool.id)
        degraded = bool(bad_pools)
        for listener_id in lb.listener_ids:
            listener = self.listeners[listener_id]
            if not listener.admin_state_up:
                listener.operating_status = OFFLINE
                continue
            pools = self.listener_pools(listener)
            if any(p.id in bad_pools for p in pools):
                listener.operating_status = DEGRADED
                degraded = True
            else:
                listener.operating_status = ONLINE
        if not lb.admin_state_up:
            lb.operating_status = OFFLINE
        elif lb.provisioning_status == ERROR:
            lb.operating_status = ERROR
        else:
            lb.operating_status = DEGRADED if degraded else ONLINE

    def _pool_status(self, pool: Pool) -> str:
        if not pool.admin_state_up:
            return OFFLINE
        members = [self.members[m] for m in pool.member_ids]
        enabled = [m for m in members if m.admin_state_up]
        if not enabled:
            return ONLINE
        errors = sum(1 for m in enabled if m.operating_status == ERROR)
        if errors == 0:
            return ONLINE
        return ERROR if errors == len(enabled) else DEGRADED

    def member_ok_status(self, pool: Pool) -> str:
        return ONLINE if pool.healthmonitor_id else NO_MONITOR

