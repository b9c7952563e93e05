"""Moves a fleet through time, reproducibly for a given seed.

Each step:
1. finishes what the previous step started: PENDING_CREATE/PENDING_UPDATE load balancers become
   ACTIVE, PENDING_DELETE ones disappear (their amphorae stay in the table as DELETED, hidden
   from the API);
2. lets some ERROR load balancers recover;
3. starts new changes: ~1 % of load balancers go PENDING_UPDATE, now and then one goes ERROR,
   one is created (PENDING_CREATE) or one is deleted (PENDING_DELETE);
4. flaps ~1 % of monitored members between ONLINE and ERROR, rolling statuses up;
5. grows every statistics counter (never down) and redraws active connections;
6. now and then attaches a free floating IP to a load balancer of its project, detaches one,
   or moves one to another load balancer of the same project (its own RNG, so the Octavia
   side of a seed's sequence is what it was before floating IPs existed);
7. finishes the amphora failovers started last step (old amphora DELETED, replacement
   ALLOCATED, load balancer ACTIVE) and now and then starts one (own RNG again).

Apart from the steps, ``hm_writes`` > 0 writes that many status changes a second the way the
health manager does (health.py ``health_write``: a member flips, its pool, listeners and load
balancer roll up, every row written stamped after the last), from an RNG of its own, so a
seed gives the same sequence of writes; while it runs the fleet's clock follows the wall clock,
and never lags behind the stamps written (whole seconds, each after the last).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field, replace

from exporter.simulator.fleet import Fleet
from exporter.simulator.model import (
    ACTIVE,
    ERROR,
    NO_MONITOR,
    OFFLINE,
    ONLINE,
    PENDING_CREATE,
    PENDING_DELETE,
    PENDING_UPDATE,
    FloatingIP,
    LBShape,
    LoadBalancer,
)


@dataclass
class ScenarioRates:
    update_share: float = 0.01
    error_chance: float = 0.05
    recover_chance: float = 0.3
    create_chance: float = 0.2
    delete_chance: float = 0.1
    flap_share: float = 0.01
    step_seconds: int = 10
    fip_attach_chance: float = 0.1
    fip_detach_chance: float = 0.05
    fip_move_chance: float = 0.05
    failover_chance: float = 0.1


@dataclass
class StepReport:
    step: int
    finished: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    errored: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    flapped: int = 0
    fip_attached: list[str] = field(default_factory=list)
    fip_detached: list[str] = field(default_factory=list)
    fip_moved: list[str] = field(default_factory=list)
    failovers_finished: list[str] = field(default_factory=list)
    failovers_started: list[str] = field(default_factory=list)


def step(fleet: Fleet, rng: random.Random, rates: ScenarioRates | None = None,
         number: int = 0, template: LBShape | None = None,
         fip_rng: random.Random | None = None,
         failover_rng: random.Random | None = None) -> StepReport:
    """Advance the fleet by one step. New load balancers are shaped like ``template``.
    Floating IPs move only when ``fip_rng`` is given, amphorae fail over only with
    ``failover_rng``."""
    r = rates or ScenarioRates()
    report = StepReport(step=number)
    fleet.clock += r.step_seconds
    now = fleet.clock

    # 1. finish the transitions started last time
    for lb_id in sorted(fleet.failovers):
        fleet.finish_failover(lb_id)
        fleet.transitions.pop(lb_id, None)
        report.failovers_finished.append(lb_id)
    for lb_id, status in sorted(fleet.transitions.items()):
        lb = fleet.loadbalancers.get(lb_id)
        if lb is None:
            continue
        if status == PENDING_DELETE:
            fleet.delete_lb(lb_id)
            report.deleted.append(lb_id)
            continue
        if status in (PENDING_CREATE, PENDING_UPDATE):
            lb.provisioning_status = ACTIVE
            for listener_id in lb.listener_ids:
                fleet.listeners[listener_id].provisioning_status = ACTIVE
            lb.updated_at = now
            fleet.rollup(lb)
            report.finished.append(lb_id)
        if status == ERROR:
            continue
    fleet.transitions = {k: v for k, v in fleet.transitions.items()
                         if v == ERROR and k in fleet.loadbalancers}

    # 2. recover some ERROR load balancers
    for lb_id in sorted(fleet.transitions):
        if rng.random() < r.recover_chance:
            lb = fleet.loadbalancers[lb_id]
            lb.provisioning_status = ACTIVE
            lb.updated_at = now
            fleet.rollup(lb)
            del fleet.transitions[lb_id]
            report.recovered.append(lb_id)

    # 3. start new changes among stable load balancers
    lb_index = fleet.index["loadbalancers"]
    total = len(lb_index)
    if total:
        count = max(1, int(total * r.update_share)) if r.update_share > 0 else 0
        for pos in sorted(rng.sample(range(total), min(count, total))):
            lb = fleet.loadbalancers[lb_index.id_at(pos)]
            if lb.provisioning_status != ACTIVE or lb.id in fleet.transitions:
                continue
            lb.provisioning_status = PENDING_UPDATE
            lb.updated_at = now
            fleet.transitions[lb.id] = PENDING_UPDATE
            report.updated.append(lb.id)
        if rng.random() < r.error_chance:
            lb = fleet.loadbalancers[lb_index.id_at(rng.randrange(total))]
            if lb.provisioning_status == ACTIVE and lb.id not in fleet.transitions:
                lb.provisioning_status = ERROR
                lb.operating_status = ERROR
                lb.updated_at = now
                fleet.transitions[lb.id] = ERROR
                report.errored.append(lb.id)
        if rng.random() < r.delete_chance:
            lb = fleet.loadbalancers[lb_index.id_at(rng.randrange(total))]
            if lb.provisioning_status == ACTIVE and lb.id not in fleet.transitions:
                lb.provisioning_status = PENDING_DELETE
                lb.updated_at = now
                fleet.transitions[lb.id] = PENDING_DELETE
    if rng.random() < r.create_chance:
        shape = replace(template or LBShape(member_jitter=True),
                        provisioning_status=PENDING_CREATE, operating_status=OFFLINE,
                        l7policy=rng.random() < 0.1)
        lb = fleet.create_lb_tree(shape)
        fleet.transitions[lb.id] = PENDING_CREATE
        report.created.append(lb.id)

    # 4. member flaps
    member_index = fleet.index["members"]
    members = len(member_index)
    if members and r.flap_share > 0:
        count = max(1, int(members * r.flap_share))
        touched: set[str] = set()
        for pos in sorted(rng.sample(range(members), min(count, members))):
            member = fleet.members[member_index.id_at(pos)]
            if member.operating_status in (NO_MONITOR, OFFLINE) or not member.admin_state_up:
                continue
            member.operating_status = ERROR if member.operating_status == ONLINE else ONLINE
            member.updated_at = now
            report.flapped += 1
            pool = fleet.pools[member.pool_id]
            touched.add(pool.loadbalancer_id)
        for lb_id in sorted(touched):
            fleet.rollup(fleet.loadbalancers[lb_id])

    # 5. traffic
    for listener_id in fleet.index["listeners"].ids():
        for row in fleet.stats.get(listener_id, {}).values():
            conns = rng.randint(0, 500) if row.active_connections or row.total_connections else 0
            row.total_connections += conns
            row.bytes_in += conns * rng.randint(200, 800)
            row.bytes_out += conns * rng.randint(800, 4000)
            row.request_errors += rng.randint(0, conns // 100 + 1) if conns else 0
            row.active_connections = rng.randint(0, 200) if conns else 0

    # 6. floating IPs
    if fip_rng is not None:
        _floatingip_events(fleet, fip_rng, r, report)

    # 7. amphora failovers
    if failover_rng is not None and failover_rng.random() < r.failover_chance:
        lb = _random_active_lb(fleet, failover_rng)
        if lb is not None and lb.id not in fleet.transitions and (
                fleet.start_failover(lb, failover_rng) is not None):
            report.failovers_started.append(lb.id)
    return report


def _random_active_lb(fleet: Fleet, rng: random.Random, project_id: str | None = None,
                      exclude: str | None = None) -> LoadBalancer | None:
    """An ACTIVE load balancer (of a project), a few draws at most: O(1)."""
    index = (fleet.index["loadbalancers"] if project_id is None
             else fleet.project_index["loadbalancers"].get(project_id))
    if index is None or not len(index):
        return None
    for _ in range(4):
        lb = fleet.loadbalancers[index.id_at(rng.randrange(len(index)))]
        if lb.provisioning_status == ACTIVE and lb.id != exclude:
            return lb
    return None


def _random_attached_fip(fleet: Fleet, rng: random.Random) -> FloatingIP | None:
    index = fleet.fip_index
    if not len(index):
        return None
    for _ in range(4):
        fip = fleet.floatingips[index.id_at(rng.randrange(len(index)))]
        if fip.port_id is not None:
            return fip
    return None


def _floatingip_events(fleet: Fleet, rng: random.Random, r: ScenarioRates,
                       report: StepReport) -> None:
    if rng.random() < r.fip_attach_chance:
        lb = _random_active_lb(fleet, rng)
        free = fleet.free_fips.get(lb.project_id) if lb is not None else None
        if lb is not None and free is not None and len(free):
            free_fip = fleet.floatingips[free.id_at(rng.randrange(len(free)))]
            fleet.attach_floatingip(free_fip, lb)
            report.fip_attached.append(free_fip.id)
    if rng.random() < r.fip_detach_chance:
        fip = _random_attached_fip(fleet, rng)
        if fip is not None:
            fleet.attach_floatingip(fip, None)
            report.fip_detached.append(fip.id)
    if rng.random() < r.fip_move_chance:
        fip = _random_attached_fip(fleet, rng)
        if fip is not None:
            current = fleet.lb_of_fip(fip)
            target = _random_active_lb(fleet, rng, fip.project_id,
                                       exclude=current.id if current else None)
            if target is not None:
                fleet.attach_floatingip(fip, target)
                report.fip_moved.append(fip.id)


class Scenario:
    """Owns the RNG and, when ``tick_interval`` > 0, a task stepping every interval."""

    def __init__(self, fleet: Fleet, seed: int, tick_interval: float = 0.0,
                 rates: ScenarioRates | None = None, template: LBShape | None = None) -> None:
        self.fleet = fleet
        self.template = template
        self.rng = random.Random(seed ^ 0x5EED)
        self.fip_rng = random.Random(seed ^ 0xF1F1)
        self.failover_rng = random.Random(seed ^ 0xFA11)
        self.tick_interval = tick_interval
        self.rates = rates or ScenarioRates(
            step_seconds=max(1, int(tick_interval)) if tick_interval > 0 else 10)
        self.steps = 0
        self._task: asyncio.Task[None] | None = None
        self.hm_rng = random.Random(seed ^ 0x4EA1)
        self.hm_writes = 0.0
        self.hm_written: list[str] = []  # the members written, in order
        self._hm_task: asyncio.Task[None] | None = None
        self._hm_progress = asyncio.Event()

    def step(self, n: int = 1) -> list[StepReport]:
        reports = []
        for _ in range(n):
            self.steps += 1
            reports.append(step(self.fleet, self.rng, self.rates, self.steps, self.template,
                                self.fip_rng, self.failover_rng))
        return reports

    def start(self) -> None:
        if self.tick_interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        if self.hm_writes > 0 and self._hm_task is None:
            self._hm_task = asyncio.get_running_loop().create_task(self._hm_run())

    def set_interval(self, interval: float) -> None:
        """Change the tick interval; restarts the ticking task if one runs."""
        running = self._task is not None
        if self._task is not None:
            self._task.cancel()
            self._task = None
        self.tick_interval = interval
        if running or interval > 0:
            with contextlib.suppress(RuntimeError):  # no running loop: start() will do it
                self.start()

    def health_writes(self, n: int = 1) -> list[str]:
        """Write ``n`` status changes as the health manager does; the members written."""
        written = []
        fleet = self.fleet
        for _ in range(n):
            member = fleet.health_write(self.hm_rng)
            if member is None:
                continue
            written.append(member.id)
            pool = fleet.pools[member.pool_id]
            lb = fleet.loadbalancers[pool.loadbalancer_id]
            stamps = [member.updated_at, pool.updated_at, lb.updated_at,
                      *(fleet.listeners[x].updated_at for x in lb.listener_ids)]
            # Stamps are whole seconds, each after the last: the clock keeps up with them, so
            # that a step's writes (stamped with the clock) are never older than these.
            fleet.clock = max(fleet.clock, *(s or 0 for s in stamps))
        self.hm_written.extend(written)
        self._hm_progress.set()
        return written

    def set_hm_writes(self, per_second: float) -> None:
        """Write ``per_second`` status changes a second from now on (0: stop)."""
        if per_second < 0:
            raise ValueError("hm_writes must be >= 0")
        self.hm_writes = float(per_second)
        if self._hm_task is not None:
            self._hm_task.cancel()
            self._hm_task = None
        if self.hm_writes > 0:
            with contextlib.suppress(RuntimeError):  # no running loop: start() will do it
                self._hm_task = asyncio.get_running_loop().create_task(self._hm_run())

    async def wait_hm_writes(self, count: int) -> None:
        """Return once ``count`` writes have been made (for tests: no sleeps needed)."""
        while len(self.hm_written) < count:
            self._hm_progress.clear()
            await self._hm_progress.wait()

    async def _hm_run(self) -> None:
        period = 1.0 / self.hm_writes
        started, clock = time.monotonic(), self.fleet.clock
        due = started
        while True:
            due += period
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            # Octavia stamps with the wall clock: the fleet's follows it while writes run.
            elapsed = int(time.monotonic() - started)
            self.fleet.clock = max(self.fleet.clock, clock + elapsed)
            self.health_writes(1)

    async def stop(self) -> None:
        task, self._task = self._task, None
        hm_task, self._hm_task = self._hm_task, None
        for running in (task, hm_task):
            if running is not None:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            self.step()
