"""Octavia v2: response shapes (key sets from octavia/api/v2/types), errors, scoping."""

from __future__ import annotations

import aiohttp
import pytest

from exporter.simulator import Simulator
from tests.support.simulator import get_json

# The *Response types of octavia/api/v2/types, plus tenant_id (added for types with project_id).
LB_KEYS = {
    "id", "name", "description", "provisioning_status", "operating_status", "admin_state_up",
    "project_id", "tenant_id", "created_at", "updated_at", "vip_address", "vip_port_id",
    "vip_subnet_id", "vip_network_id", "vip_sg_ids", "additional_vips", "listeners", "pools",
    "provider", "flavor_id", "vip_qos_policy_id", "tags", "availability_zone", "vip_vnic_type",
}
LISTENER_KEYS = {
    "id", "name", "description", "provisioning_status", "operating_status", "admin_state_up",
    "protocol", "protocol_port", "connection_limit", "default_tls_container_ref",
    "sni_container_refs", "project_id", "tenant_id", "default_pool_id", "l7policies",
    "insert_headers", "created_at", "updated_at", "loadbalancers", "timeout_client_data",
    "timeout_member_connect", "timeout_member_data", "timeout_tcp_inspect", "tags",
    "client_ca_tls_container_ref", "client_authentication", "client_crl_container_ref",
    "allowed_cidrs", "tls_ciphers", "tls_versions", "alpn_protocols", "hsts_max_age",
    "hsts_include_subdomains", "hsts_preload",
}
POOL_KEYS_NO_HM = {
    "id", "name", "description", "provisioning_status", "operating_status", "admin_state_up",
    "protocol", "lb_algorithm", "session_persistence", "project_id", "tenant_id",
    "loadbalancers", "listeners", "created_at", "updated_at", "members", "tags",
    "tls_container_ref", "ca_tls_container_ref", "crl_container_ref", "tls_enabled",
    "tls_ciphers", "tls_versions", "alpn_protocols",
}
MEMBER_KEYS = {
    "id", "name", "operating_status", "provisioning_status", "admin_state_up", "address",
    "protocol_port", "weight", "backup", "subnet_id", "project_id", "tenant_id", "created_at",
    "updated_at", "monitor_address", "monitor_port", "tags", "vnic_type",
}
HM_KEYS = {
    "id", "name", "type", "delay", "timeout", "max_retries", "max_retries_down", "http_method",
    "url_path", "expected_codes", "admin_state_up", "project_id", "tenant_id", "pools",
    "provisioning_status", "operating_status", "created_at", "updated_at", "tags",
    "http_version", "domain_name",
}
L7POLICY_KEYS = {
    "id", "name", "description", "provisioning_status", "operating_status", "admin_state_up",
    "project_id", "tenant_id", "action", "listener_id", "redirect_pool_id", "redirect_url",
    "redirect_prefix", "position", "rules", "created_at", "updated_at", "tags",
    "redirect_http_code",
}
AMPHORA_KEYS = {
    "id", "loadbalancer_id", "compute_id", "lb_network_ip", "vrrp_ip", "ha_ip", "vrrp_port_id",
    "ha_port_id", "cert_expiration", "cert_busy", "role", "status", "vrrp_interface", "vrrp_id",
    "vrrp_priority", "cached_zone", "created_at", "updated_at", "image_id", "compute_flavor",
}
STATS_KEYS = {"bytes_in", "bytes_out", "active_connections", "total_connections",
              "request_errors"}


def v2(sim: Simulator, path: str) -> str:
    return f"{sim.octavia_url}/v2/{path}"


async def test_version_document_needs_no_token(sim: Simulator,
                                               http: aiohttp.ClientSession) -> None:
    status, body = await get_json(http, f"{sim.octavia_url}/")
    assert status == 200
    ids = [v["id"] for v in body["versions"]]
    assert ids == [f"v2.{i}" for i in range(31)]
    assert [v["status"] for v in body["versions"]].count("CURRENT") == 1
    assert body["versions"][-1]["status"] == "CURRENT"
    assert body["versions"][0]["links"] == [
        {"href": f"{sim.octavia_url}/v2", "rel": "self"}
    ]
    # without the trailing slash keystonemiddleware wants a token
    assert (await get_json(http, sim.octavia_url))[0] == 401


async def test_v2_root(sim: Simulator, http: aiohttp.ClientSession,
                       admin: dict[str, str]) -> None:
    assert await get_json(http, f"{sim.octavia_url}/v2", admin) == (200, "v2")
    async with http.get(f"{sim.octavia_url}/v2", headers=admin) as resp:
        assert resp.headers["x-openstack-request-id"].startswith("req-")


@pytest.mark.parametrize(("path", "keys"), [
    ("lbaas/loadbalancers", LB_KEYS),
    ("lbaas/listeners", LISTENER_KEYS),
    ("lbaas/healthmonitors", HM_KEYS),
    ("lbaas/l7policies", L7POLICY_KEYS),
    ("octavia/amphorae", AMPHORA_KEYS),
])
async def test_list_key_sets(sim: Simulator, http: aiohttp.ClientSession,
                             admin: dict[str, str], path: str, keys: set[str]) -> None:
    status, body = await get_json(http, v2(sim, path), admin)
    assert status == 200
    collection = path.split("/")[1]
    assert set(body) == {collection, f"{collection}_links"}
    assert body[collection], f"no {collection} generated"
    for obj in body[collection]:
        assert set(obj) == keys
    one = body[collection][0]
    status, single = await get_json(http, v2(sim, f"{path}/{one['id']}"), admin)
    assert status == 200
    (root,) = single
    assert single[root] == one


async def test_pool_keys_healthmonitor_id_only_when_monitored(
        sim: Simulator, http: aiohttp.ClientSession, admin: dict[str, str]) -> None:
    _, body = await get_json(http, v2(sim, "lbaas/pools"), admin)
    with_hm = [p for p in body["pools"] if "healthmonitor_id" in p]
    without = [p for p in body["pools"] if "healthmonitor_id" not in p]
    assert with_hm and without, "the fleet should have pools with and without monitors"
    for pool in with_hm:
        assert set(pool) == POOL_KEYS_NO_HM | {"healthmonitor_id"}
    for pool in without:
        assert set(pool) == POOL_KEYS_NO_HM


async def test_member_keys_and_value_types(sim: Simulator, http: aiohttp.ClientSession,
                                           admin: dict[str, str]) -> None:
    pool = next(p for p in sim.fleet.pools.values() if p.member_ids)
    status, body = await get_json(http, v2(sim, f"lbaas/pools/{pool.id}/members"), admin)
    assert status == 200
    assert set(body) == {"members", "members_links"}
    assert len(body["members"]) == len(pool.member_ids)
    member = body["members"][0]
    assert set(member) == MEMBER_KEYS
    assert isinstance(member["protocol_port"], int)
    assert isinstance(member["weight"], int)
    assert isinstance(member["admin_state_up"], bool)
    assert isinstance(member["backup"], bool)
    assert member["tenant_id"] == member["project_id"]
    assert len(member["created_at"]) == len("2026-11-26T10:00:00")
    status, one = await get_json(
        http, v2(sim, f"lbaas/pools/{pool.id}/members/{member['id']}"), admin)
    assert (status, one) == (200, {"member": member})


async def test_relations_are_id_lists(sim: Simulator, http: aiohttp.ClientSession,
                                      admin: dict[str, str]) -> None:
    lb = next(lb for lb in sim.fleet.loadbalancers.values() if lb.listener_ids)
    _, body = await get_json(http, v2(sim, f"lbaas/loadbalancers/{lb.id}"), admin)
    assert body["loadbalancer"]["listeners"] == [{"id": i} for i in lb.listener_ids]
    _, body = await get_json(http, v2(sim, f"lbaas/listeners/{lb.listener_ids[0]}"), admin)
    assert body["listener"]["loadbalancers"] == [{"id": lb.id}]
    assert "loadbalancer_id" not in body["listener"]
    pool_id = lb.pool_ids[0]
    _, body = await get_json(http, v2(sim, f"lbaas/pools/{pool_id}"), admin)
    assert body["pool"]["loadbalancers"] == [{"id": lb.id}]
    assert body["pool"]["members"] == [{"id": m} for m in sim.fleet.pools[pool_id].member_ids]


@pytest.mark.parametrize(("path", "resource"), [
    ("lbaas/loadbalancers/{x}", "Load Balancer"),
    ("lbaas/listeners/{x}", "Listener"),
    ("lbaas/pools/{x}", "Pool"),
    ("lbaas/healthmonitors/{x}", "Health Monitor"),
    ("lbaas/l7policies/{x}", "L7 Policy"),
    ("octavia/amphorae/{x}", "Amphora"),
    ("lbaas/loadbalancers/{x}/status", "Load Balancer"),
    ("lbaas/loadbalancers/{x}/stats", "Load Balancer"),
    ("lbaas/listeners/{x}/stats", "Listener"),
    ("octavia/amphorae/{x}/stats", "Amphora stats for"),
])
async def test_not_found_bodies(sim: Simulator, http: aiohttp.ClientSession,
                                admin: dict[str, str], path: str, resource: str) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    status, body = await get_json(http, v2(sim, path.format(x=missing)), admin)
    assert status == 404
    assert body == {"faultcode": "Client", "faultstring": f"{resource} {missing} not found.",
                    "debuginfo": None}


async def test_members_of_unknown_pool_is_a_routing_404(
        sim: Simulator, http: aiohttp.ClientSession, admin: dict[str, str]) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    async with http.get(v2(sim, f"lbaas/pools/{missing}/members"), headers=admin) as resp:
        assert resp.status == 404
        body = await resp.json()
    assert body["code"] == "404 Bad Request"
    assert f"Pool {missing} not found." in body["message"]


async def test_unknown_path_and_method(sim: Simulator, http: aiohttp.ClientSession,
                                       admin: dict[str, str]) -> None:
    status, body = await get_json(http, v2(sim, "lbaas/nothing"), admin)
    assert status == 404
    assert body["title"] == "Not Found"
    async with http.delete(v2(sim, "lbaas/loadbalancers"), headers=admin) as resp:
        assert resp.status == 405


async def test_aliases(sim: Simulator, http: aiohttp.ClientSession,
                       admin: dict[str, str]) -> None:
    _, canonical = await get_json(http, v2(sim, "lbaas/loadbalancers"), admin)
    for alias in ("/v2.0/lbaas/loadbalancers", "/v2/loadbalancers",
                  "/v2/lbaas/loadbalancers.json"):
        status, body = await get_json(http, f"{sim.octavia_url}{alias}", admin)
        assert status == 200
        assert body["loadbalancers"] == canonical["loadbalancers"]


async def test_status_tree_shape(sim: Simulator, http: aiohttp.ClientSession,
                                 admin: dict[str, str]) -> None:
    fleet = sim.fleet
    for lb in fleet.loadbalancers.values():
        for suffix in ("status", "statuses"):
            status, body = await get_json(
                http, v2(sim, f"lbaas/loadbalancers/{lb.id}/{suffix}"), admin)
            assert status == 200
            tree = body["statuses"]["loadbalancer"]
            assert set(tree) == {"id", "name", "operating_status", "provisioning_status",
                                 "listeners"}
            assert [li["id"] for li in tree["listeners"]] == lb.listener_ids
            in_tree = set()
            for listener in tree["listeners"]:
                assert set(listener) == {"id", "name", "operating_status",
                                         "provisioning_status", "pools"}
                for pool in listener["pools"]:
                    in_tree.add(pool["id"])
                    model = fleet.pools[pool["id"]]
                    # health_monitor is always rendered, null without one, as real Octavia
                    # 19 does (tests/integration/test_contract.py compares the two).
                    assert set(pool) == {"id", "name", "operating_status",
                                         "provisioning_status", "members", "health_monitor"}
                    if model.healthmonitor_id:
                        assert set(pool["health_monitor"]) == {
                            "id", "name", "type", "operating_status", "provisioning_status"}
                    else:
                        assert pool["health_monitor"] is None
                    for member in pool["members"]:
                        assert set(member) == {"id", "name", "operating_status",
                                               "provisioning_status", "address",
                                               "protocol_port"}
                        assert isinstance(member["name"], str)
            unattached = {p for p in lb.pool_ids if not fleet.pool_listener_ids(fleet.pools[p])}
            assert not (in_tree & unattached)


async def test_fleet_has_interesting_shapes(sim: Simulator) -> None:
    fleet = sim.fleet
    assert any(not lb.listener_ids for lb in fleet.loadbalancers.values()) or any(
        not fleet.pool_listener_ids(p) for p in fleet.pools.values())
    assert any(p.healthmonitor_id is None for p in fleet.pools.values())


async def test_stats_are_sums(sim: Simulator, http: aiohttp.ClientSession,
                              admin: dict[str, str]) -> None:
    fleet = sim.fleet
    lb = next(lb for lb in fleet.loadbalancers.values() if len(lb.listener_ids) >= 2)
    listener_stats = []
    for listener_id in lb.listener_ids:
        status, body = await get_json(http, v2(sim, f"lbaas/listeners/{listener_id}/stats"),
                                      admin)
        assert status == 200
        assert set(body) == {"stats"} and set(body["stats"]) == STATS_KEYS
        listener_stats.append(body["stats"])
    _, body = await get_json(http, v2(sim, f"lbaas/loadbalancers/{lb.id}/stats"), admin)
    for key in STATS_KEYS:
        assert body["stats"][key] == sum(s[key] for s in listener_stats)
    # a listener's stats are the sum over its amphorae (active only from ALLOCATED ones)
    amp_rows = []
    for amp_id in lb.amphora_ids:
        status, amp = await get_json(http, v2(sim, f"octavia/amphorae/{amp_id}/stats"), admin)
        assert status == 200
        for row in amp["amphora_stats"]:
            assert set(row) == STATS_KEYS | {"id", "listener_id", "loadbalancer_id"}
            assert row["id"] == amp_id and row["loadbalancer_id"] == lb.id
        amp_rows.extend(amp["amphora_stats"])
    first = lb.listener_ids[0]
    rows = [r for r in amp_rows if r["listener_id"] == first]
    assert len(rows) == len(lb.amphora_ids)
    assert listener_stats[0]["bytes_in"] == sum(r["bytes_in"] for r in rows)
    # a BACKUP amphora no longer ALLOCATED stops counting active connections
    backup = fleet.amphorae[lb.amphora_ids[1]]
    backup.status = "ERROR"
    fleet.stats[first][backup.id].active_connections = 1000
    _, body = await get_json(http, v2(sim, f"lbaas/listeners/{first}/stats"), admin)
    assert body["stats"]["active_connections"] == listener_stats[0]["active_connections"]


async def test_provider_without_amphorae_stats(http: aiohttp.ClientSession) -> None:
    from tests.support.simulator import spec

    sim = Simulator(spec(amphorae_per_lb=0, lbs=3, no_listener_share=0.0))
    await sim.start()
    try:
        lb = next(iter(sim.fleet.loadbalancers.values()))
        assert lb.provider == "ovn" and not lb.amphora_ids
        listener_id = lb.listener_ids[0]
        row = sim.fleet.stats[listener_id][listener_id]
        async with http.post(f"{sim.auth_url}/auth/tokens", json={"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": "sim-appcred-id", "secret": "sim-appcred-secret"},
        }}}) as resp:
            headers = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
        _, body = await get_json(http, v2(sim, f"lbaas/listeners/{listener_id}/stats"), headers)
        assert body["stats"]["active_connections"] == row.active_connections
        _, body = await get_json(http, v2(sim, "octavia/amphorae"), headers)
        assert body["amphorae"] == []
    finally:
        await sim.stop()


async def test_demo_sees_only_its_project(sim: Simulator, http: aiohttp.ClientSession,
                                          demo: dict[str, str], admin: dict[str, str]) -> None:
    demo_project = sim.identity.project_id("demo")
    fleet = sim.fleet
    mine = [lb for lb in fleet.loadbalancers.values() if lb.project_id == demo_project]
    theirs = [lb for lb in fleet.loadbalancers.values() if lb.project_id != demo_project]
    assert mine and theirs
    for path in ("lbaas/loadbalancers", "lbaas/listeners", "lbaas/pools",
                 "lbaas/healthmonitors", "lbaas/l7policies"):
        status, body = await get_json(http, v2(sim, path), demo)
        assert status == 200
        collection = path.split("/")[1]
        assert {o["project_id"] for o in body[collection]} <= {demo_project}
    _, body = await get_json(http, v2(sim, "lbaas/loadbalancers"), demo)
    assert {o["id"] for o in body["loadbalancers"]} == {lb.id for lb in mine}
    # asking for somebody else's project is refused
    status, body = await get_json(
        http, v2(sim, f"lbaas/loadbalancers?project_id={theirs[0].project_id}"), demo)
    assert status == 403
    # another project's objects: 403 (they exist; Octavia checks existence first)
    forbidden = {"faultcode": "Client",
                 "faultstring": "Policy does not allow this request to be performed.",
                 "debuginfo": None}
    other = theirs[0]
    for path in (f"lbaas/loadbalancers/{other.id}", f"lbaas/loadbalancers/{other.id}/status",
                 f"lbaas/loadbalancers/{other.id}/stats"):
        assert await get_json(http, v2(sim, path), demo) == (403, forbidden)
    pool = fleet.pools[other.pool_ids[0]]
    assert (await get_json(http, v2(sim, f"lbaas/pools/{pool.id}/members"), demo))[0] == 403
    # its own: fine
    own = mine[0]
    assert (await get_json(http, v2(sim, f"lbaas/loadbalancers/{own.id}/status"), demo))[0] \
        == 200
    # admin sees everything
    _, body = await get_json(http, v2(sim, "lbaas/loadbalancers"), admin)
    assert len(body["loadbalancers"]) == len(fleet.loadbalancers)


async def test_demo_gets_403_on_amphorae(sim: Simulator, http: aiohttp.ClientSession,
                                         demo: dict[str, str]) -> None:
    amp = next(iter(sim.fleet.amphorae.values()))
    for path in ("octavia/amphorae", f"octavia/amphorae/{amp.id}",
                 f"octavia/amphorae/{amp.id}/stats"):
        status, body = await get_json(http, v2(sim, path), demo)
        assert status == 403
        assert body["faultstring"] == "Policy does not allow this request to be performed."


async def test_fields_selection(sim: Simulator, http: aiohttp.ClientSession,
                                admin: dict[str, str]) -> None:
    _, body = await get_json(http, v2(sim, "lbaas/loadbalancers?fields=id&fields=name"), admin)
    assert all(set(o) == {"id", "name"} for o in body["loadbalancers"])
    _, body = await get_json(http, v2(sim, "lbaas/loadbalancers?fields=project_id"), admin)
    assert all(set(o) == {"project_id"} for o in body["loadbalancers"])
    lb_id = next(iter(sim.fleet.loadbalancers))
    _, body = await get_json(
        http, v2(sim, f"lbaas/loadbalancers/{lb_id}?fields=id&fields=provisioning_status"),
        admin)
    assert set(body["loadbalancer"]) == {"id", "provisioning_status"}
    # WSME does not split commas: one field called "id,name", which nothing has
    _, body = await get_json(http, v2(sim, "lbaas/loadbalancers?fields=id,name"), admin)
    assert all(o == {} for o in body["loadbalancers"])


async def test_attribute_filters(sim: Simulator, http: aiohttp.ClientSession,
                                 admin: dict[str, str]) -> None:
    fleet = sim.fleet
    lb = next(lb for lb in fleet.loadbalancers.values() if lb.listener_ids)
    _, body = await get_json(http, v2(sim, f"lbaas/listeners?loadbalancer_id={lb.id}"), admin)
    assert [o["id"] for o in body["listeners"]] == sorted(
        lb.listener_ids, key=lambda i: (fleet.listeners[i].created_at, i))
    _, body = await get_json(http, v2(sim, f"lbaas/pools?loadbalancer_id={lb.id}"), admin)
    assert {o["id"] for o in body["pools"]} == set(lb.pool_ids)
    _, body = await get_json(http, v2(sim, "lbaas/loadbalancers?provisioning_status=ACTIVE"),
                             admin)
    expected = {x.id for x in fleet.loadbalancers.values() if x.provisioning_status == "ACTIVE"}
    assert {o["id"] for o in body["loadbalancers"]} == expected
    _, body = await get_json(http, v2(sim, "lbaas/listeners?protocol_port=80"), admin)
    assert body["listeners"] and all(o["protocol_port"] == 80 for o in body["listeners"])
    _, body = await get_json(http, v2(sim, "lbaas/loadbalancers?admin_state_up=true"), admin)
    assert all(o["admin_state_up"] for o in body["loadbalancers"])
    _, body = await get_json(http, v2(sim, f"octavia/amphorae?loadbalancer_id={lb.id}"), admin)
    assert {o["id"] for o in body["amphorae"]} == set(lb.amphora_ids)
    status, body = await get_json(http, v2(sim, "lbaas/loadbalancers?color=red"), admin)
    assert status == 400
    assert body["faultstring"] == "One or more arguments are either duplicate or invalid"
