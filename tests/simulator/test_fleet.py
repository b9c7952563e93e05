"""The fleet model, the generator and the scenario, without HTTP."""

from __future__ import annotations

import json
import random
import time

import aiohttp

from exporter.simulator import FleetSpec, LBShape, Simulator
from exporter.simulator.control import dump_fleet
from exporter.simulator.generator import generate
from exporter.simulator.scenario import Scenario, ScenarioRates, step
from tests.support.simulator import START, get_json, spec


def test_same_seed_same_fleet() -> None:
    one = json.dumps(dump_fleet(Simulator(spec()).default_region))
    two = json.dumps(dump_fleet(Simulator(spec()).default_region))
    assert one == two
    other = json.dumps(dump_fleet(Simulator(spec(seed=8)).default_region))
    assert other != one


def test_same_seed_same_scenario() -> None:
    dumps = []
    for _ in range(2):
        sim = Simulator(spec(lbs=30))
        sim.scenario.step(5)
        dumps.append(json.dumps(dump_fleet(sim.default_region)))
    assert dumps[0] == dumps[1]


def test_every_special_case_is_present() -> None:
    fleet = generate(spec())
    lbs = list(fleet.loadbalancers.values())
    assert any(not lb.listener_ids for lb in lbs)
    assert any(not fleet.pool_listener_ids(p) for p in fleet.pools.values())
    assert any(p.healthmonitor_id is None for p in fleet.pools.values())
    assert fleet.l7policies
    assert any(lb.provisioning_status == "ERROR" for lb in lbs)
    assert any(lb.operating_status == "DEGRADED" for lb in lbs)
    assert any(lb.provisioning_status.startswith("PENDING_") for lb in lbs)
    names = [lb.name for lb in generate(spec(lbs=200)).loadbalancers.values()]
    assert "" in names
    assert any('"' in n or "'" in n for n in names)
    assert any(not n.isascii() for n in names)


def test_shape_defaults_and_amphorae() -> None:
    fleet = generate(FleetSpec(lbs=200, seed=3, start_time=START))
    counts = fleet.counts()
    assert 1.8 < counts["listeners"] / counts["loadbalancers"] <= 2.0
    assert 4.0 < counts["members"] / counts["pools"] < 6.0
    for lb in fleet.loadbalancers.values():
        roles = sorted(fleet.amphorae[a].role or "" for a in lb.amphora_ids)
        assert roles == ["BACKUP", "MASTER"]
        assert lb.topology == "ACTIVE_STANDBY"
    for amp in fleet.amphorae.values():
        assert START + 86400 <= amp.cert_expiration <= START + 400 * 86400
    single = generate(FleetSpec(lbs=5, seed=3, amphorae_per_lb=1, start_time=START))
    assert {a.role for a in single.amphorae.values()} == {"STANDALONE"}
    none = generate(FleetSpec(lbs=5, seed=3, amphorae_per_lb=0, start_time=START))
    assert not none.amphorae
    assert {lb.provider for lb in none.loadbalancers.values()} == {"ovn"}


def test_rollup() -> None:
    fleet = generate(spec(degraded_share=0.0, error_share=0.0, pending_share=0.0,
                                admin_down_share=0.0))
    fleet.rng = random.Random(1)
    lb = fleet.create_lb_tree(LBShape(listeners=1, pools=1, members_per_pool=3))
    pool = fleet.pools[lb.pool_ids[0]]
    listener = fleet.listeners[lb.listener_ids[0]]
    members = [fleet.members[m] for m in pool.member_ids]
    assert {m.operating_status for m in members} == {"ONLINE"}
    members[0].operating_status = "ERROR"
    fleet.rollup(lb)
    assert (pool.operating_status, listener.operating_status, lb.operating_status) == (
        "DEGRADED", "DEGRADED", "DEGRADED")
    for m in members:
        m.operating_status = "ERROR"
    fleet.rollup(lb)
    assert pool.operating_status == "ERROR" and lb.operating_status == "DEGRADED"
    members[0].admin_state_up = False
    for m in members[1:]:
        m.operating_status = "ONLINE"
    fleet.rollup(lb)
    assert pool.operating_status == "ONLINE" and lb.operating_status == "ONLINE"
    lb.admin_state_up = False
    fleet.rollup(lb)
    assert lb.operating_status == "OFFLINE"


def test_unmonitored_members_have_no_monitor_status() -> None:
    fleet = generate(spec())
    for pool in fleet.pools.values():
        if pool.healthmonitor_id is None:
            assert {fleet.members[m].operating_status for m in pool.member_ids} <= {
                "NO_MONITOR"}


def test_scenario_moves_things_and_counters_only_grow() -> None:
    fleet = generate(spec(lbs=60))
    # Seed 6: the first step starts a deletion, so the loop over pending deletions below runs.
    rng = random.Random(6)
    rates = ScenarioRates(update_share=0.05, error_chance=1.0, create_chance=1.0,
                          delete_chance=1.0, flap_share=0.05)
    before = {lid: fleet.listener_stats(lid) for lid in fleet.listeners}
    statuses = {m.id: m.operating_status for m in fleet.members.values()}
    report = step(fleet, rng, rates, 1)
    assert report.updated and report.created and report.flapped
    assert any(fleet.members[m].operating_status != s for m, s in statuses.items()
               if m in fleet.members)
    for lb_id in report.updated:
        assert fleet.loadbalancers[lb_id].provisioning_status == "PENDING_UPDATE"
    created = report.created[0]
    assert fleet.loadbalancers[created].provisioning_status == "PENDING_CREATE"
    pending_delete = [lb.id for lb in fleet.loadbalancers.values()
                      if lb.provisioning_status == "PENDING_DELETE"]
    assert pending_delete
    for lid, stats in before.items():
        after = fleet.listener_stats(lid)
        for key in ("bytes_in", "bytes_out", "total_connections", "request_errors"):
            assert after[key] >= stats[key]
    second = step(fleet, rng, rates, 2)
    for lb_id in report.updated:
        if lb_id in fleet.loadbalancers and lb_id not in second.errored:
            assert fleet.loadbalancers[lb_id].provisioning_status in ("ACTIVE", "PENDING_UPDATE")
    assert report.updated[0] in second.finished
    assert fleet.loadbalancers[created].provisioning_status in ("ACTIVE", "PENDING_UPDATE",
                                                                "ERROR", "PENDING_DELETE")
    for lb_id in pending_delete:
        assert lb_id not in fleet.loadbalancers
        assert lb_id in second.deleted
    # errors recover eventually
    errored = [*report.errored, *second.errored]
    assert errored
    for n in range(3, 40):
        step(fleet, rng, rates, n)
    assert any(lb_id in fleet.loadbalancers
               and fleet.loadbalancers[lb_id].provisioning_status != "ERROR"
               for lb_id in errored)


def test_scenario_keeps_indexes_consistent() -> None:
    fleet = generate(spec(lbs=40))
    scenario = Scenario(fleet, seed=3, rates=ScenarioRates(create_chance=1.0,
                                                           delete_chance=1.0))
    scenario.step(30)
    for kind in ("loadbalancers", "listeners", "pools", "members", "healthmonitors",
                 "l7policies", "amphorae"):
        assert sorted(fleet.index[kind].ids()) == sorted(fleet.table(kind))
    for lb in fleet.loadbalancers.values():
        for listener_id in lb.listener_ids:
            assert listener_id in fleet.listeners and listener_id in fleet.stats


async def test_ten_thousand_load_balancers(http: aiohttp.ClientSession) -> None:
    started = time.monotonic()
    sim = Simulator(FleetSpec(lbs=10_000, seed=1, start_time=START))
    generated = time.monotonic() - started
    assert len(sim.fleet.loadbalancers) == 10_000
    assert len(sim.fleet.members) > 90_000
    await sim.start()
    try:
        body = {"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": "sim-appcred-id", "secret": "sim-appcred-secret"},
        }}}
        async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
            headers = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
        # O(page), not O(fleet): count the objects rendered per request
        from exporter.simulator import views

        rendered = 0
        original = views.view

        def counting(*args: object) -> object:
            nonlocal rendered
            rendered += 1
            return original(*args)  # type: ignore[arg-type]

        views.view = counting  # type: ignore[assignment]
        try:
            ids = sim.fleet.index["loadbalancers"].ids()
            t0 = time.monotonic()
            status, tree = await get_json(
                http, f"{sim.octavia_url}/v2/lbaas/loadbalancers/{ids[-1]}/status", headers)
            status_time = time.monotonic() - t0
            assert status == 200 and tree["statuses"]["loadbalancer"]["id"] == ids[-1]
            t0 = time.monotonic()
            status, page = await get_json(
                http, f"{sim.octavia_url}/v2/lbaas/loadbalancers?limit=50&marker={ids[5000]}",
                headers)
            page_time = time.monotonic() - t0
            assert [o["id"] for o in page["loadbalancers"]] == ids[5001:5051]
            assert rendered == 50
        finally:
            views.view = original  # type: ignore[assignment]
        # floating IPs: one page renders the page, also for a project and a port
        fips = sim.fleet.fip_index.ids()
        assert len(fips) > 6000
        rendered = 0
        original_fip = views.floatingip

        def counting_fip(*args: object) -> object:
            nonlocal rendered
            rendered += 1
            return original_fip(*args)  # type: ignore[arg-type]

        views.floatingip = counting_fip  # type: ignore[assignment]
        try:
            t0 = time.monotonic()
            status, page = await get_json(
                http, f"{sim.neutron_url}/v2.0/floatingips?limit=50&marker={fips[3000]}",
                headers)
            fip_time = time.monotonic() - t0
            assert [o["id"] for o in page["floatingips"]] == fips[3001:3051]
            project = sim.fleet.floatingips[fips[0]].project_id
            await get_json(http, f"{sim.neutron_url}/v2.0/floatingips?limit=50&project_id="
                                 f"{project}", headers)
            port = next(p for p in sim.fleet.fips_by_port)
            await get_json(http, f"{sim.neutron_url}/v2.0/floatingips?port_id={port}", headers)
            assert rendered == 100 + len(sim.fleet.fips_by_port[port])
        finally:
            views.floatingip = original_fip  # type: ignore[assignment]
        print(f"\n10k LBs: generated in {generated:.2f}s, status tree {status_time * 1000:.1f}ms, "
              f"page of 50 {page_time * 1000:.1f}ms, floating IP page {fip_time * 1000:.1f}ms")
    finally:
        await sim.stop()
