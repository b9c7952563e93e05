"""Status changes written as Octavia's health manager writes them, during a run."""

from __future__ import annotations

import asyncio

import aiohttp

from exporter.simulator import Simulator
from exporter.simulator.cli import build_parser, main
from exporter.simulator.model import ERROR, ONLINE
from tests.support.simulator import get_json, spec


def _newest(sim: Simulator) -> int:
    fleet = sim.fleet
    return max(o.updated_at or 0 for kind in ("loadbalancers", "listeners", "pools", "members")
               for o in fleet.table(kind).values())


def test_the_same_seed_writes_the_same_sequence() -> None:
    first, again, other = (Simulator(spec(seed=s)) for s in (7, 7, 8))
    written = first.scenario.health_writes(20)
    assert len(written) == 20
    assert again.scenario.health_writes(20) == written
    assert other.scenario.health_writes(20) != written


def test_each_write_rolls_up_and_is_stamped_after_the_last() -> None:
    sim = Simulator(spec(degraded_share=0.0, error_share=0.0))
    fleet = sim.fleet
    rolled_up = 0
    for _ in range(30):
        before = _newest(sim)
        statuses = {lb.id: lb.operating_status for lb in fleet.loadbalancers.values()}
        [member_id] = sim.scenario.health_writes(1)
        member = fleet.members[member_id]
        pool = fleet.pools[member.pool_id]
        lb = fleet.loadbalancers[pool.loadbalancer_id]
        assert member.operating_status in (ONLINE, ERROR)
        assert member.updated_at is not None and member.updated_at > before
        if lb.operating_status != statuses[lb.id]:
            rolled_up += 1
            # update_health's order: listeners, the member, its pool, the load balancer last
            assert lb.updated_at == _newest(sim)
            assert pool.updated_at is not None and member.updated_at < pool.updated_at
            assert pool.updated_at < lb.updated_at
            for listener_id in pool.default_listener_ids:
                stamp = fleet.listeners[listener_id].updated_at
                assert stamp is not None and before < stamp < member.updated_at
        else:
            # the member's row, and its pool's if the pool changed (a second member failing)
            assert _newest(sim) in (member.updated_at, pool.updated_at)
    assert rolled_up > 0


async def test_writes_run_at_a_rate_and_lead_the_feed() -> None:
    sim = Simulator(spec(degraded_share=0.0, error_share=0.0))
    await sim.start()
    try:
        sim.scenario.set_hm_writes(200)
        await asyncio.wait_for(sim.scenario.wait_hm_writes(5), timeout=10)
        sim.scenario.set_hm_writes(0)
        last = sim.fleet.members[sim.scenario.hm_written[-1]]
        body = {"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": "sim-appcred-id", "secret": "sim-appcred-secret"},
        }}}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
                headers = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
            pool = sim.fleet.pools[last.pool_id]
            _, page = await get_json(http, f"{sim.octavia_url}/v2/lbaas/pools/{pool.id}/members"
                                     "?sort=updated_at:desc&limit=1", headers)
            assert [m["id"] for m in page["members"]] == [last.id]
            newest = max(sim.fleet.loadbalancers.values(), key=lambda lb: lb.updated_at or 0)
            _, page = await get_json(http, f"{sim.octavia_url}/v2/lbaas/loadbalancers"
                                     "?sort=updated_at:desc&limit=1", headers)
            assert [lb["id"] for lb in page["loadbalancers"]] == [newest.id]
    finally:
        await sim.stop()
    assert sim.scenario._hm_task is None


def test_cli_option() -> None:
    assert build_parser().parse_args(["--hm-writes", "2.5"]).hm_writes == 2.5
    assert build_parser().parse_args([]).hm_writes == 0.0
    assert main(["--hm-writes", "-1"]) == 2


def test_a_step_after_writes_is_stamped_no_older_than_them() -> None:
    sim = Simulator(spec(lbs=40, degraded_share=0.0, error_share=0.0))
    sim.scenario.health_writes(30)
    newest = _newest(sim)
    assert sim.fleet.clock >= newest
    [report] = sim.scenario.step()
    for lb_id in report.updated:
        stamp = sim.fleet.loadbalancers[lb_id].updated_at
        assert stamp is not None and stamp > newest
    assert report.updated
