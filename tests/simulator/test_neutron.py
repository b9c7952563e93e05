"""Neutron's floating IPs: catalog, shapes, pagination, filters, scoping, errors, control API."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import aiohttp
import pytest

from exporter.simulator import Simulator
from exporter.simulator.control import dump_fleet
from exporter.simulator.generator import generate
from exporter.simulator.model import FleetSpec
from exporter.simulator.scenario import ScenarioRates, step
from tests.support.simulator import START, TokenFactory, get_json, password_body, spec

FIP_KEYS = {
    "id", "tenant_id", "project_id", "floating_ip_address", "floating_network_id", "router_id",
    "port_id", "fixed_ip_address", "status", "description", "tags", "created_at", "updated_at",
    "revision_number", "port_details", "dns_domain", "dns_name", "qos_policy_id",
}
PORT_DETAILS_KEYS = {"name", "network_id", "mac_address", "admin_state_up", "status",
                     "device_id", "device_owner"}


def _links(body: dict[str, Any]) -> dict[str, str]:
    return {link["rel"]: link["href"] for link in body.get("floatingips_links", [])}


def _fips_per_lb(sim: Simulator) -> Counter[int]:
    fleet = sim.fleet
    return Counter(len(fleet.fips_by_port.get(lb.vip_port_id, []))
                   for lb in fleet.loadbalancers.values())


async def _sim_json(http: aiohttp.ClientSession, method: str, url: str,
                    body: Any = None) -> tuple[int, Any]:
    async with http.request(method, url, json=body) as resp:
        return resp.status, await resp.json()


# ----- the model -----------------------------------------------------------------------------
def test_generated_floating_ips_are_deterministic_and_cover_every_case() -> None:
    one = json.dumps(dump_fleet(Simulator(spec()).default_region, ["floatingips"]))
    two = json.dumps(dump_fleet(Simulator(spec()).default_region, ["floatingips"]))
    assert one == two
    assert one != json.dumps(dump_fleet(Simulator(spec(seed=8)).default_region,
                                        ["floatingips"]))
    for seed in range(20):
        fleet = generate(spec(lbs=8, seed=seed))
        per_lb = Counter(len(fleet.fips_by_port.get(lb.vip_port_id, []))
                         for lb in fleet.loadbalancers.values())
        assert per_lb[0] and per_lb[1] and per_lb[2], (seed, per_lb)
        assert any(f.port_id is None and f.status == "DOWN"
                   for f in fleet.floatingips.values())
    fleet = generate(FleetSpec(lbs=1000, seed=3, start_time=START))
    per_lb = Counter(len(fleet.fips_by_port.get(lb.vip_port_id, []))
                     for lb in fleet.loadbalancers.values())
    assert 0.55 < per_lb[1] / 1000 < 0.65 and 0.02 < per_lb[2] / 1000 < 0.08
    for fip in fleet.floatingips.values():
        lb = fleet.lb_of_fip(fip)
        if fip.port_id is None:
            assert (fip.status, fip.fixed_ip_address, fip.router_id) == ("DOWN", None, None)
        else:
            assert lb is not None and fip.status == "ACTIVE"
            assert (fip.port_id, fip.fixed_ip_address) == (lb.vip_port_id, lb.vip_address)
            assert fip.project_id == lb.project_id
        assert fip.created_at <= fleet.clock
    assert len({f.floating_ip_address for f in fleet.floatingips.values()}) == len(
        fleet.floatingips)
    # the Octavia side of a seed is what it was without floating IPs: ids come from their own
    # RNG (the first load balancer's id only depends on the main RNG's first draws)
    assert next(iter(fleet.loadbalancers)) == next(iter(
        generate(FleetSpec(lbs=1000, seed=3, start_time=START, floatingip_share=0.0,
                           two_floatingip_share=0.0)).loadbalancers))


def test_deleting_a_load_balancer_detaches_and_the_scenario_moves_them() -> None:
    sim = Simulator(spec(lbs=30))
    fleet = sim.fleet
    lb = next(lb for lb in fleet.loadbalancers.values()
              if len(fleet.fips_by_port.get(lb.vip_port_id, [])) == 2)
    fips = list(fleet.fips_by_port[lb.vip_port_id])
    fleet.delete_lb(lb.id)
    for fip_id in fips:
        fip = fleet.floatingips[fip_id]
        assert (fip.port_id, fip.status) == (None, "DOWN")
        assert fip.updated_at == fleet.clock

    rates = ScenarioRates(update_share=0, error_chance=0, create_chance=0, delete_chance=0,
                          flap_share=0, fip_attach_chance=1.0, fip_detach_chance=1.0,
                          fip_move_chance=1.0)
    results = []
    for _ in range(2):
        sim = Simulator(spec(lbs=30))
        fleet = sim.fleet
        reports = [step(fleet, sim.scenario.rng, rates, n, fip_rng=random.Random(5))
                   for n in range(20)]
        attached = sum(len(r.fip_attached) for r in reports)
        detached = sum(len(r.fip_detached) for r in reports)
        moved = sum(len(r.fip_moved) for r in reports)
        assert attached and detached and moved
        for fip in fleet.floatingips.values():  # the invariants still hold
            lb = fleet.lb_of_fip(fip)
            assert (fip.status == "ACTIVE") == (lb is not None)
            if lb is not None:
                assert fip.fixed_ip_address == lb.vip_address
                assert fip.id in fleet.fips_by_port[lb.vip_port_id]
        results.append(json.dumps(dump_fleet(sim.default_region, ["floatingips"])))
    assert results[0] == results[1]


# ----- the API -------------------------------------------------------------------------------
async def test_catalog_versions_and_resources(sim: Simulator, http: aiohttp.ClientSession,
                                              admin: dict[str, str]) -> None:
    status, body = await get_json(http, f"{sim.neutron_url}/")  # no token needed
    assert (status, body) == (200, {"versions": [{
        "id": "v2.0", "status": "CURRENT",
        "links": [{"rel": "self", "href": f"{sim.neutron_url}/v2.0/"}]}]})
    status, body = await get_json(http, f"{sim.neutron_url}/v2.0/", admin)
    assert status == 200
    assert [r["collection"] for r in body["resources"]] == [
        "networks", "subnets", "subnetpools", "ports"]
    status, body = await get_json(http, f"{sim.neutron_url}/v2.0/routers", admin)
    assert (status, body) == (404, {"NeutronError": {
        "type": "HTTPNotFound", "message": "The resource could not be found.", "detail": ""}})


async def test_list_and_show_shapes(sim: Simulator, http: aiohttp.ClientSession,
                                    admin: dict[str, str]) -> None:
    status, body = await get_json(http, f"{sim.neutron_url}/v2.0/floatingips", admin)
    assert status == 200
    # no limit and no pagination_max_limit: everything, and no links at all
    assert set(body) == {"floatingips"}
    fleet = sim.fleet
    assert [f["id"] for f in body["floatingips"]] == sorted(fleet.floatingips)
    lbs_by_port = {lb.vip_port_id: lb for lb in fleet.loadbalancers.values()}
    seen_attached = seen_free = False
    for fip in body["floatingips"]:
        assert set(fip) == FIP_KEYS
        assert fip["tenant_id"] == fip["project_id"]
        assert fip["created_at"].endswith("Z") and fip["updated_at"].endswith("Z")
        assert isinstance(fip["revision_number"], int) and isinstance(fip["tags"], list)
        if fip["port_id"] is None:
            seen_free = True
            assert (fip["status"], fip["fixed_ip_address"], fip["router_id"],
                    fip["port_details"]) == ("DOWN", None, None, None)
        else:
            seen_attached = True
            lb = lbs_by_port[fip["port_id"]]
            assert fip["status"] == "ACTIVE" and fip["fixed_ip_address"] == lb.vip_address
            assert fip["router_id"]
            details = fip["port_details"]
            assert set(details) == PORT_DETAILS_KEYS
            assert details["device_id"] == f"lb-{lb.id}"
            assert details["device_owner"] == "Octavia"
            assert details["network_id"] == lb.vip_network_id
    assert seen_attached and seen_free
    first = body["floatingips"][0]
    status, one = await get_json(http, f"{sim.neutron_url}/v2.0/floatingips/{first['id']}",
                                 admin)
    assert (status, one) == (200, {"floatingip": first})
    status, one = await get_json(
        http, f"{sim.neutron_url}/v2.0/floatingips/{first['id']}.json?fields=id&fields=status",
        admin)
    assert one == {"floatingip": {"id": first["id"], "status": first["status"]}}
    # fields on lists; no comma splitting; unknown names select nothing
    _, body = await get_json(
        http, f"{sim.neutron_url}/v2.0/floatingips?fields=id&fields=port_id", admin)
    assert all(set(f) == {"id", "port_id"} for f in body["floatingips"])
    _, body = await get_json(http, f"{sim.neutron_url}/v2.0/floatingips?fields=id,port_id",
                             admin)
    assert all(f == {} for f in body["floatingips"])


async def test_pagination_is_neutrons(http: aiohttp.ClientSession) -> None:
    sim = Simulator(spec(lbs=40))
    await sim.start()
    try:
        body = password_body("admin", "admin-secret", "admin")
        async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
            headers = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
        ids = sorted(sim.fleet.floatingips)
        total = len(ids)
        # a limit that divides the total: the last full page still has a next link
        limit = next(n for n in (7, 6, 5, 4, 3, 2) if total % n == 0)
        base = f"{sim.neutron_url}/v2.0/floatingips"
        url: str | None = f"{base}?limit={limit}&fields=id"
        pages: list[list[str]] = []
        bodies = []
        while url:
            status, page = await get_json(http, url, headers)
            assert status == 200
            bodies.append(page)
            pages.append([f["id"] for f in page["floatingips"]])
            url = _links(page).get("next")
        assert [len(p) for p in pages] == [limit] * (total // limit) + [0]
        assert [i for p in pages for i in p] == ids
        # every forward page has a previous link, even the first; the empty one only that
        first = _links(bodies[0])
        assert set(first) == {"next", "previous"}
        assert parse_qsl(urlsplit(first["next"]).query) == [
            ("limit", str(limit)), ("fields", "id"), ("marker", pages[0][-1])]
        assert parse_qsl(urlsplit(first["previous"]).query) == [
            ("limit", str(limit)), ("fields", "id"), ("marker", pages[0][0]),
            ("page_reverse", "True")]
        assert first["next"].startswith(f"{base}?")
        last = _links(bodies[-1])
        assert set(last) == {"previous"}
        assert parse_qs(urlsplit(last["previous"]).query) == {
            "limit": [str(limit)], "fields": ["id"], "page_reverse": ["True"]}
        # a short page: no next link
        _, page = await get_json(http, f"{base}?limit={total + 1}", headers)
        assert len(page["floatingips"]) == total and set(_links(page)) == {"previous"}
        # page_reverse: the items just before the marker, in forward order; no marker: the end
        _, page = await get_json(http, f"{base}?limit=3&marker={ids[10]}&page_reverse=TRUE",
                                 headers)
        assert [f["id"] for f in page["floatingips"]] == ids[7:10]
        assert set(_links(page)) == {"next", "previous"}
        _, page = await get_json(http, f"{base}?limit=3&page_reverse=true", headers)
        assert [f["id"] for f in page["floatingips"]] == ids[-3:]
        _, page = await get_json(http, f"{base}?limit=3&marker={ids[1]}&page_reverse=true",
                                 headers)
        assert [f["id"] for f in page["floatingips"]] == ids[:1]
        assert set(_links(page)) == {"next"}
        # an unknown marker is ignored (the marker object is simply not found)
        _, page = await get_json(http, f"{base}?limit=2&marker=nope", headers)
        assert [f["id"] for f in page["floatingips"]] == ids[:2]
        # pagination_max_limit caps the page and applies without a limit
        sim.configure(neutron_page_cap=4)
        _, page = await get_json(http, f"{base}?limit=100", headers)
        assert len(page["floatingips"]) == 4 and "next" in _links(page)
        _, page = await get_json(http, base, headers)
        assert len(page["floatingips"]) == 4
        assert parse_qs(urlsplit(_links(page)["next"]).query) == {"marker": [ids[3]]}
        sim.configure(neutron_page_cap=-1)
        _, page = await get_json(http, base, headers)
        assert len(page["floatingips"]) == total
        # sort keys (id appended as the tie breaker), with a marker
        _, page = await get_json(
            http, f"{base}?sort_key=status&sort_dir=asc&sort_key=id&sort_dir=desc&limit=5",
            headers)
        expected = sorted(sim.fleet.floatingips.values(), key=lambda f: f.id, reverse=True)
        expected.sort(key=lambda f: f.status)
        assert [f["id"] for f in page["floatingips"]] == [f.id for f in expected[:5]]
        _, page = await get_json(
            http, f"{base}?sort_key=status&sort_dir=asc&sort_key=id&sort_dir=desc&limit=5"
                  f"&marker={expected[4].id}", headers)
        assert [f["id"] for f in page["floatingips"]] == [f.id for f in expected[5:10]]
    finally:
        await sim.stop()


async def test_filters_and_bad_queries(sim: Simulator, http: aiohttp.ClientSession,
                                       admin: dict[str, str]) -> None:
    fleet = sim.fleet
    base = f"{sim.neutron_url}/v2.0/floatingips"
    lb = next(lb for lb in fleet.loadbalancers.values()
              if len(fleet.fips_by_port.get(lb.vip_port_id, [])) == 2)
    _, body = await get_json(http, f"{base}?port_id={lb.vip_port_id}", admin)
    assert {f["id"] for f in body["floatingips"]} == set(fleet.fips_by_port[lb.vip_port_id])
    other = next(lb2 for lb2 in fleet.loadbalancers.values()
                 if len(fleet.fips_by_port.get(lb2.vip_port_id, [])) == 1)
    _, body = await get_json(
        http, f"{base}?port_id={lb.vip_port_id}&port_id={other.vip_port_id}", admin)
    assert len(body["floatingips"]) == 3
    _, body = await get_json(http, f"{base}?status=DOWN", admin)
    assert body["floatingips"] and all(f["port_id"] is None for f in body["floatingips"])
    demo = sim.identity.project_id("demo")
    _, body = await get_json(http, f"{base}?project_id={demo}&status=ACTIVE", admin)
    assert {f["id"] for f in body["floatingips"]} == {
        f.id for f in fleet.floatingips.values() if f.project_id == demo and f.port_id}
    for query, error_type, message in (
        ("colour=red&size=1", "HTTPBadRequest", "['colour', 'size'] is invalid attribute for "
                                                "filtering"),
        ("dns_name=x", "HTTPBadRequest", "['dns_name'] is invalid attribute for filtering"),
        ("limit=many", "BadRequest", "Bad limit request: Limit must be an integer 0 or greater "
                                     "and not 'many'."),
        ("limit=-1", "BadRequest", "Bad limit request: Limit must be an integer 0 or greater "
                                   "and not '-1'."),
        ("sort_key=id", "HTTPBadRequest", "The number of sort_keys and sort_dirs must be same"),
        ("sort_key=port_id&sort_dir=asc", "HTTPBadRequest",
         "['port_id'] is invalid attribute for sort_keys"),
        ("sort_key=id&sort_dir=up", "HTTPBadRequest",
         "['up'] is invalid value for sort_dirs, valid value is 'asc' and 'desc'"),
    ):
        status, body = await get_json(http, f"{base}?{query}", admin)
        assert (status, body) == (400, {"NeutronError": {
            "type": error_type, "message": message, "detail": ""}}), query


async def test_scoping_401_and_404(sim: Simulator, http: aiohttp.ClientSession,
                                   admin: dict[str, str], demo: dict[str, str]) -> None:
    fleet = sim.fleet
    base = f"{sim.neutron_url}/v2.0/floatingips"
    demo_project = sim.identity.project_id("demo")
    _, body = await get_json(http, base, demo)
    mine = sorted(f.id for f in fleet.floatingips.values() if f.project_id == demo_project)
    assert mine and [f["id"] for f in body["floatingips"]] == mine
    foreign = next(f for f in fleet.floatingips.values() if f.project_id != demo_project)
    _, body = await get_json(http, f"{base}?project_id={foreign.project_id}", demo)
    assert body == {"floatingips": []}
    for fip_id in (foreign.id, "00000000-0000-4000-8000-000000000000"):
        status, body = await get_json(http, f"{base}/{fip_id}", demo)
        assert (status, body) == (404, {"NeutronError": {
            "type": "FloatingIPNotFound", "message": f"Floating IP {fip_id} could not be found",
            "detail": ""}})
    status, _ = await get_json(http, f"{base}/{foreign.id}", admin)
    assert status == 200
    for headers in ({}, {"X-Auth-Token": "nope"}):
        async with http.get(base, headers=headers) as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{sim.auth_url}"'
            assert await resp.json() == {"error": {
                "code": 401, "title": "Unauthorized",
                "message": "The request you have made requires authentication."}}


async def test_control_api_attach_detach_move(sim: Simulator, http: aiohttp.ClientSession,
                                              admin: dict[str, str]) -> None:
    fleet = sim.fleet
    control = f"{sim.base_url}/_sim/floatingips"
    api = f"{sim.neutron_url}/v2.0/floatingips"
    demo = sim.identity.project_id("demo")
    lb1, lb2 = [lb for lb in fleet.loadbalancers.values() if lb.project_id == demo][:2]
    before = len(fleet.floatingips)
    status, fip = await _sim_json(http, "POST", control, {"loadbalancer_id": lb1.id,
                                                         "description": "web"})
    assert status == 201
    assert (fip["port_id"], fip["fixed_ip_address"], fip["status"], fip["loadbalancer_id"],
            fip["project_id"], fip["description"]) == (
        lb1.vip_port_id, lb1.vip_address, "ACTIVE", lb1.id, demo, "web")
    _, shown = await get_json(http, f"{api}/{fip['id']}", admin)
    assert shown["floatingip"]["port_id"] == lb1.vip_port_id
    fleet.clock += 60
    # move by port id
    status, moved = await _sim_json(http, "PATCH", f"{control}/{fip['id']}",
                                    {"port_id": lb2.vip_port_id})
    assert status == 200
    assert (moved["port_id"], moved["fixed_ip_address"], moved["status"],
            moved["loadbalancer_id"]) == (lb2.vip_port_id, lb2.vip_address, "ACTIVE", lb2.id)
    assert moved["revision_number"] == fip["revision_number"] + 1
    assert moved["updated_at"] > fip["updated_at"]
    _, listed = await get_json(http, f"{api}?port_id={lb1.vip_port_id}", admin)
    assert fip["id"] not in {f["id"] for f in listed["floatingips"]}
    # detach
    status, detached = await _sim_json(http, "PATCH", f"{control}/{fip['id']}",
                                       {"loadbalancer_id": None})
    assert (detached["port_id"], detached["status"], detached["port_details"],
            detached["loadbalancer_id"]) == (None, "DOWN", None, None)
    # a status on its own; an unattached one by default in project demo
    status, errored = await _sim_json(http, "PATCH", f"{control}/{fip['id']}",
                                      {"status": "ERROR"})
    assert errored["status"] == "ERROR"
    status, free = await _sim_json(http, "POST", control, {})
    assert status == 201 and free["port_id"] is None and free["project_id"] == demo
    # errors
    assert (await _sim_json(http, "PATCH", f"{control}/{fip['id']}",
                            {"loadbalancer_id": "nope"}))[0] == 404
    assert (await _sim_json(http, "PATCH", f"{control}/{fip['id']}",
                            {"port_id": "not-a-vip-port"}))[0] == 404
    assert (await _sim_json(http, "PATCH", f"{control}/{fip['id']}",
                            {"status": "BROKEN"}))[0] == 400
    assert (await _sim_json(http, "PATCH", f"{control}/{fip['id']}", {"id": "x"}))[0] == 400
    assert fleet.floatingips[fip["id"]].status == "ERROR"  # nothing changed
    # the fleet dump lists them with their load balancer
    _, dump = await get_json(http, f"{sim.base_url}/_sim/fleet?kinds=floatingips")
    assert set(dump) >= {"floatingips", "counts"} and "loadbalancers" not in dump
    assert dump["counts"]["floatingips"] == len(dump["floatingips"]) == before + 2
    by_id = {f["id"]: f for f in dump["floatingips"]}
    assert by_id[fip["id"]]["loadbalancer_id"] is None
    assert (await get_json(http, f"{control}/{fip['id']}"))[1]["status"] == "ERROR"
    # delete
    status, _ = await _sim_json(http, "DELETE", f"{control}/{fip['id']}")
    assert status == 200
    assert (await get_json(http, f"{api}/{fip['id']}", admin))[0] == 404
    assert (await _sim_json(http, "DELETE", f"{control}/{fip['id']}"))[0] == 404


@pytest.fixture
async def no_neutron() -> AsyncIterator[Simulator]:
    simulator = Simulator(spec(), neutron=False)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()


async def test_without_neutron(no_neutron: Simulator, http: aiohttp.ClientSession) -> None:
    sim = no_neutron

    async def catalog() -> set[str]:
        body = password_body("admin", "admin-secret", "admin")
        async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
            token = await resp.json()
        return {s["type"] for s in token["token"]["catalog"]}

    assert await catalog() == {"identity", "load-balancer"}
    status, body = await get_json(http, f"{sim.base_url}/networking/v2.0/floatingips")
    assert status == 404 and "network" not in body["services"]
    _, config = await get_json(http, f"{sim.base_url}/_sim/config")
    assert config["neutron"] is False
    status, config = await _sim_json(http, "PUT", f"{sim.base_url}/_sim/config",
                                     {"neutron": True})
    assert status == 200 and config["neutron"] is True
    assert await catalog() == {"identity", "load-balancer", "network"}
    status, _ = await get_json(http, f"{sim.base_url}/networking/")
    assert status == 200
    assert (await _sim_json(http, "PUT", f"{sim.base_url}/_sim/config",
                            {"neutron": "no"}))[0] == 400


async def test_faults_and_request_counting(sim: Simulator, http: aiohttp.ClientSession,
                                           get_token: TokenFactory) -> None:
    headers = {"X-Auth-Token": await get_token("admin")}
    base = f"{sim.neutron_url}/v2.0/floatingips"
    fip_id = next(iter(sim.fleet.floatingips))
    await _sim_json(http, "POST", f"{sim.base_url}/_sim/requests/reset")
    status, _ = await _sim_json(http, "POST", f"{sim.base_url}/_sim/faults", {
        "kind": "error", "status": 403, "service": "neutron", "endpoint": "floatingips"})
    assert status == 200
    status, body = await get_json(http, base, headers)
    assert (status, body) == (403, {"NeutronError": {
        "type": "PolicyNotAuthorized", "message": "rule:get_floatingip is disallowed by policy",
        "detail": ""}})
    # the pattern names the list only; Octavia is not touched
    assert (await get_json(http, f"{base}/{fip_id}", headers))[0] == 200
    assert (await get_json(http, f"{sim.octavia_url}/v2/lbaas/loadbalancers", headers))[0] == 200
    await _sim_json(http, "PUT", f"{sim.base_url}/_sim/faults", [
        {"kind": "error", "status": 503, "service": "neutron", "endpoint": "floatingips*"}])
    async with http.get(f"{base}/{fip_id}", headers=headers) as resp:
        assert resp.status == 503 and resp.content_type == "text/html"
    await _sim_json(http, "PUT", f"{sim.base_url}/_sim/faults", [
        {"kind": "malformed", "service": "neutron"}])
    async with http.get(base, headers=headers) as resp:
        assert resp.status == 200
        with pytest.raises(ValueError):
            json.loads(await resp.read())
    await _sim_json(http, "DELETE", f"{sim.base_url}/_sim/faults")
    await get_json(http, f"{sim.neutron_url}/")
    _, counts = await get_json(http, f"{sim.base_url}/_sim/requests")
    neutron = {(r["method"], r["endpoint"], r["status"]): r["count"]
               for r in counts["requests"] if r["service"] == "neutron"}
    assert neutron == {
        ("GET", "/v2.0/floatingips", 403): 1, ("GET", "/v2.0/floatingips", 200): 1,
        ("GET", "/v2.0/floatingips/{id}", 200): 1, ("GET", "/v2.0/floatingips/{id}", 503): 1,
        ("GET", "/", 200): 1,
    }
    assert {r["region"] for r in counts["requests"] if r["service"] == "neutron"} == {
        "RegionOne"}
