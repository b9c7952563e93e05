"""Operating statuses as the health manager derives them from its members."""

from __future__ import annotations

from typing import Any

from exporter.simulator.model import (
    DEGRADED,
    ERROR,
    NO_MONITOR,
    OFFLINE,
    ONLINE,
    LoadBalancer,
    Pool,
)
from exporter.simulator.store import Store


class Health(Store):
    """The status roll-up over a store."""

    def rollup(self, lb: LoadBalancer) -> None:
        """Recompute pool, listener and LB operating status from the members, like the
        health manager: a member in ERROR makes its pool DEGRADED (all of them: ERROR), a
        DEGRADED/ERROR pool makes its listeners and the load balancer DEGRADED. As the health
        manager, it writes (and moves updated_at of) only the rows whose status changed."""
        rows: list[Any] = [lb, *(self.pools[p] for p in lb.pool_ids),
                           *(self.listeners[x] for x in lb.listener_ids)]
        before = [row.operating_status for row in rows]
        self._rollup(lb)
        for row, old in zip(rows, before, strict=True):
            if row.operating_status != old and self.stamping:
                row.updated_at = self.write_stamp()

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

