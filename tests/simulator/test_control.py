"""The control API under /_sim/."""

from __future__ import annotations

from typing import Any

import aiohttp

from exporter.simulator import Simulator
from tests.support.simulator import get_json


async def _sim_json(http: aiohttp.ClientSession, method: str, url: str,
                    body: Any = None) -> tuple[int, Any]:
    async with http.request(method, url, json=body) as resp:
        return resp.status, await resp.json()


async def test_fleet_dump_matches_the_api(sim: Simulator, http: aiohttp.ClientSession,
                                          admin: dict[str, str]) -> None:
    status, dump = await get_json(http, f"{sim.base_url}/_sim/fleet")
    assert status == 200
    assert dump["region"] == "RegionOne"
    for kind in ("loadbalancers", "listeners", "pools", "members", "healthmonitors",
                 "l7policies", "amphorae"):
        assert dump["counts"][kind] == len(dump[kind])
    _, api = await get_json(http, f"{sim.octavia_url}/v2/lbaas/loadbalancers", admin)
    by_id = {lb["id"]: lb for lb in dump["loadbalancers"]}
    for lb in api["loadbalancers"]:
        dumped = dict(by_id[lb["id"]])
        stats = dumped.pop("stats")
        dumped.pop("amphorae")
        dumped.pop("topology")
        assert dumped == lb
        _, api_stats = await get_json(
            http, f"{sim.octavia_url}/v2/lbaas/loadbalancers/{lb['id']}/stats", admin)
        assert api_stats["stats"] == stats
    assert {"pool_id", "loadbalancer_id"} <= set(dump["members"][0])
    status, partial = await get_json(http, f"{sim.base_url}/_sim/fleet?kinds=loadbalancers")
    assert "members" not in partial and len(partial["loadbalancers"]) == dump["counts"][
        "loadbalancers"]


async def test_member_patch_rolls_up(sim: Simulator, http: aiohttp.ClientSession,
                                     admin: dict[str, str]) -> None:
    fleet = sim.fleet
    lb = next(lb for lb in fleet.loadbalancers.values()
              if lb.provisioning_status == "ACTIVE" and lb.operating_status == "ONLINE"
              and any(fleet.pools[p].healthmonitor_id and len(fleet.pools[p].member_ids) > 1
                      and fleet.pool_listener_ids(fleet.pools[p]) for p in lb.pool_ids))
    pool = next(fleet.pools[p] for p in lb.pool_ids
                if fleet.pools[p].healthmonitor_id and len(fleet.pools[p].member_ids) > 1
                and fleet.pool_listener_ids(fleet.pools[p]))
    first, *rest = pool.member_ids
    status, body = await _sim_json(http, "PATCH", f"{sim.base_url}/_sim/members/{first}",
                                   {"operating_status": "ERROR"})
    assert status == 200 and body["operating_status"] == "ERROR"
    _, tree = await get_json(http, f"{sim.octavia_url}/v2/lbaas/loadbalancers/{lb.id}/status",
                             admin)
    root = tree["statuses"]["loadbalancer"]
    assert root["operating_status"] == "DEGRADED"
    pools = {p["id"]: p for li in root["listeners"] for p in li["pools"]}
    assert pools[pool.id]["operating_status"] == "DEGRADED"
    for member_id in rest:
        await _sim_json(http, "POST", f"{sim.base_url}/_sim/members/{member_id}",
                        {"operating_status": "ERROR"})
    assert fleet.pools[pool.id].operating_status == "ERROR"
    # without roll-up only the member changes
    for member_id in pool.member_ids:
        await _sim_json(http, "PATCH", f"{sim.base_url}/_sim/members/{member_id}",
                        {"operating_status": "ONLINE", "rollup": False})
    assert fleet.pools[pool.id].operating_status == "ERROR"
    await _sim_json(http, "PATCH", f"{sim.base_url}/_sim/members/{first}",
                    {"operating_status": "ONLINE"})
    assert fleet.pools[pool.id].operating_status == "ONLINE"
    assert lb.operating_status == "ONLINE"


async def test_patch_other_kinds_and_errors(sim: Simulator, http: aiohttp.ClientSession,
                                            admin: dict[str, str]) -> None:
    lb_id = next(iter(sim.fleet.loadbalancers))
    status, body = await _sim_json(http, "PATCH", f"{sim.base_url}/_sim/loadbalancers/{lb_id}",
                                   {"provisioning_status": "PENDING_UPDATE", "name": "renamed"})
    assert status == 200
    _, api = await get_json(http, f"{sim.octavia_url}/v2/lbaas/loadbalancers/{lb_id}", admin)
    assert api["loadbalancer"]["provisioning_status"] == "PENDING_UPDATE"
    assert api["loadbalancer"]["name"] == "renamed"
    amp_id = next(iter(sim.fleet.amphorae))
    status, body = await _sim_json(http, "PATCH", f"{sim.base_url}/_sim/amphorae/{amp_id}",
                                   {"cert_expiration": "2030-01-02T03:04:05", "status": "ERROR"})
    assert status == 200
    assert body["cert_expiration"] == "2030-01-02T03:04:05" and body["status"] == "ERROR"
    assert (await _sim_json(http, "PATCH", f"{sim.base_url}/_sim/loadbalancers/{lb_id}",
                            {"colour": "red"}))[0] == 400
    assert (await _sim_json(http, "PATCH", f"{sim.base_url}/_sim/loadbalancers/{lb_id}",
                            {"admin_state_up": "yes"}))[0] == 400
    assert (await _sim_json(http, "PATCH", f"{sim.base_url}/_sim/widgets/{lb_id}", {}))[0] == 404
    assert (await _sim_json(http, "PATCH", f"{sim.base_url}/_sim/pools/nope", {}))[0] == 404


async def test_listener_stats_set_and_add(sim: Simulator, http: aiohttp.ClientSession,
                                          admin: dict[str, str]) -> None:
    lb = next(lb for lb in sim.fleet.loadbalancers.values() if len(lb.listener_ids) >= 2)
    first, second = lb.listener_ids[:2]
    values = {"bytes_in": 100, "bytes_out": 200, "active_connections": 3,
              "total_connections": 40, "request_errors": 5}
    status, body = await _sim_json(http, "POST",
                                   f"{sim.base_url}/_sim/listeners/{first}/stats", values)
    assert status == 200 and body["stats"] == values
    _, api = await get_json(http, f"{sim.octavia_url}/v2/lbaas/listeners/{first}/stats", admin)
    assert api["stats"] == values
    await _sim_json(http, "POST", f"{sim.base_url}/_sim/listeners/{second}/stats",
                    {"mode": "set", **dict.fromkeys(values, 0)})
    await _sim_json(http, "POST", f"{sim.base_url}/_sim/listeners/{second}/stats",
                    {"mode": "add", "bytes_in": 11, "total_connections": 1})
    for extra in lb.listener_ids[2:]:
        await _sim_json(http, "POST", f"{sim.base_url}/_sim/listeners/{extra}/stats",
                        dict.fromkeys(values, 0))
    _, api = await get_json(http, f"{sim.octavia_url}/v2/lbaas/loadbalancers/{lb.id}/stats",
                            admin)
    assert api["stats"] == {**values, "bytes_in": 111, "total_connections": 41}


async def test_create_and_delete_a_tree(sim: Simulator, http: aiohttp.ClientSession,
                                        admin: dict[str, str]) -> None:
    status, ids = await _sim_json(http, "POST", f"{sim.base_url}/_sim/loadbalancers", {
        "name": "made-by-test", "listeners": 1, "pools": 2, "members_per_pool": 3,
        "healthmonitor": True, "amphorae": 1, "project": "demo",
    })
    assert status == 201
    assert len(ids["listeners"]) == 1 and len(ids["pools"]) == 2
    assert len(ids["members"]) == 6 and len(ids["healthmonitors"]) == 2
    assert len(ids["amphorae"]) == 1
    lb_url = f"{sim.octavia_url}/v2/lbaas/loadbalancers/{ids['loadbalancer']}"
    status, body = await get_json(http, lb_url, admin)
    assert status == 200 and body["loadbalancer"]["name"] == "made-by-test"
    assert body["loadbalancer"]["project_id"] == sim.identity.project_id("demo")
    _, tree = await get_json(http, f"{lb_url}/status", admin)
    (listener,) = tree["statuses"]["loadbalancer"]["listeners"]
    assert len(listener["pools"]) == 1  # the second pool is attached to no listener
    status, _ = await _sim_json(http, "DELETE",
                                f"{sim.base_url}/_sim/loadbalancers/{ids['loadbalancer']}")
    assert status == 200
    assert (await get_json(http, lb_url, admin))[0] == 404
    assert (await get_json(http, f"{sim.octavia_url}/v2/lbaas/pools/{ids['pools'][0]}",
                           admin))[0] == 404
    # The amphora is DELETED in the table; Octavia's API hides such rows.
    assert (await get_json(
        http, f"{sim.octavia_url}/v2/octavia/amphorae/{ids['amphorae'][0]}", admin))[0] == 404
    assert sim.fleet.amphorae[ids['amphorae'][0]].status == "DELETED"
    assert (await _sim_json(http, "POST", f"{sim.base_url}/_sim/loadbalancers",
                            {"wheels": 4}))[0] == 400


async def test_tick_and_config(sim: Simulator, http: aiohttp.ClientSession,
                               admin: dict[str, str]) -> None:
    status, body = await _sim_json(http, "POST", f"{sim.base_url}/_sim/tick", {"steps": 3})
    assert status == 200 and body["steps"] == 3 and len(body["reports"]) == 3
    status, config = await _sim_json(http, "PUT", f"{sim.base_url}/_sim/config",
                                     {"page_cap": 2, "token_ttl": 60})
    assert status == 200 and config["page_cap"] == 2 and config["token_ttl"] == 60
    _, page = await get_json(http, f"{sim.octavia_url}/v2/lbaas/loadbalancers", admin)
    assert len(page["loadbalancers"]) == 2
    assert (await _sim_json(http, "PUT", f"{sim.base_url}/_sim/config", {"page_cap": 0}))[0] \
        == 400
    assert (await _sim_json(http, "PUT", f"{sim.base_url}/_sim/config", {"nope": 1}))[0] == 400
    # The catalog can name an Octavia that is not there; "" gives the real one back.
    elsewhere = "http://octavia.invalid:9876/load-balancer"
    status, config = await _sim_json(http, "PUT", f"{sim.base_url}/_sim/config",
                                     {"octavia_catalog_url": elsewhere})
    assert status == 200 and config["octavia_catalog_url"] == elsewhere
    octavia = next(s for s in sim.keystone.catalog() if s["type"] == "load-balancer")
    assert {e["url"] for e in octavia["endpoints"]} == {elsewhere}
    await _sim_json(http, "PUT", f"{sim.base_url}/_sim/config", {"octavia_catalog_url": ""})
    octavia = next(s for s in sim.keystone.catalog() if s["type"] == "load-balancer")
    assert {e["url"] for e in octavia["endpoints"]} == {sim.octavia_url}
    status, index = await get_json(http, f"{sim.base_url}/_sim/")
    assert status == 200 and index["auth_url"] == sim.auth_url


async def test_restart_on_same_port_keeps_the_fleet(sim: Simulator,
                                                    http: aiohttp.ClientSession) -> None:
    before = sim.base_url
    _, dump = await get_json(http, f"{sim.base_url}/_sim/fleet?kinds=loadbalancers")
    await sim.stop()
    try:
        async with http.get(f"{before}/_sim/fleet") as resp:
            await resp.read()
        raise AssertionError("the simulator should be down")
    except aiohttp.ClientError:
        pass
    assert await sim.start() == before
    _, again = await get_json(http, f"{sim.base_url}/_sim/fleet?kinds=loadbalancers")
    assert again == dump
