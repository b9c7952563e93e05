"""The simulator's PROMETHEUS listeners: Octavia's proxy names, label scheme and counters that
follow the fleet, served on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from exporter.simulator import Simulator

PROXY_NAMES = Path(__file__).resolve().parents[1] / "data" / "octavia_proxy_metric_names.txt"


def proxy_names() -> set[str]:
    lines = PROXY_NAMES.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


async def call(http: aiohttp.ClientSession, sim: Simulator, method: str, path: str,
               body: Any = None) -> Any:
    async with http.request(method, sim.base_url + path, json=body) as response:
        assert response.status < 300, await response.text()
        return await response.json()


async def samples(http: aiohttp.ClientSession, url: str) -> dict[tuple[str, tuple[Any, ...]], float]:
    async with http.get(url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await response.text()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[tuple[str, tuple[Any, ...]], float], name: str, **labels: str) -> float:
    return found[(name, tuple(sorted(labels.items())))]


async def test_a_prometheus_listener_serves_the_proxys_families(
        sim: Simulator, http: aiohttp.ClientSession) -> None:
    tree = await call(http, sim, "POST", "/_sim/loadbalancers", {
        "listeners": 1, "pools": 1, "members_per_pool": 3, "amphorae": 2})
    made = await call(http, sim, "POST", f"/_sim/loadbalancers/{tree['loadbalancer']}/prometheus",
                      {"name": "metrics"})
    assert made["url"] == f"http://127.0.0.1:{made['protocol_port']}/metrics"
    listener = await call(http, sim, "GET", f"/_sim/listeners/{made['listener']}")
    assert (listener["protocol"], listener["protocol_port"]) == ("PROMETHEUS",
                                                                made["protocol_port"])

    found = await samples(http, made["url"])
    names = {name for name, _ in found}
    assert names <= proxy_names()
    # The proxy's label scheme: none of their own on the load balancer's families, then
    # listener, pool and pool + member, each HTTP response family with its code class.
    scheme = {"octavia_loadbalancer_": set(), "octavia_listener_": {"listener"},
              "octavia_pool_": {"pool"}, "octavia_member_": {"pool", "member"}}
    for name, labels in found:
        (expected,) = [v for k, v in scheme.items() if name.startswith(k)]
        code = {"code"} if name.endswith("_http_responses_total") else set()
        assert {k for k, _ in labels} == expected | code, (name, labels)
    assert {dict(labels)["code"] for name, labels in found
            if name == "octavia_listener_http_responses_total"} == {
        "1xx", "2xx", "3xx", "4xx", "5xx", "other"}
    http_listener, pool = tree["listeners"][0], tree["pools"][0]
    backend = f"{pool}:{http_listener}"
    # Every listener of the load balancer is reported, the PROMETHEUS one too.
    assert {dict(labels).get("listener") for name, labels in found
            if name == "octavia_listener_status"} == {http_listener, made["listener"]}
    assert {dict(labels)["member"] for name, labels in found
            if name == "octavia_member_status"} == set(tree["members"])
    assert {dict(labels)["pool"] for name, labels in found
            if name == "octavia_pool_status"} == {backend}
    for member in tree["members"]:
        assert value(found, "octavia_member_status", pool=backend, member=member) == 1
        assert value(found, "octavia_member_check_failures_total", pool=backend,
                     member=member) == 0
    # The same text on the simulator's own port.
    here = await samples(http, f"{sim.base_url}/_sim/listeners/{made['listener']}/prometheus")
    assert here.keys() == found.keys()


async def test_counters_follow_the_fleet_and_a_down_member_fails_checks(
        sim: Simulator, http: aiohttp.ClientSession) -> None:
    clock = [1000.0]
    sim.data_plane.clock = lambda: clock[0]
    tree = await call(http, sim, "POST", "/_sim/loadbalancers", {
        "listeners": 1, "pools": 1, "members_per_pool": 2, "amphorae": 1})
    made = await call(http, sim, "POST", f"/_sim/loadbalancers/{tree['loadbalancer']}/prometheus",
                      {})
    listener, pool = tree["listeners"][0], tree["pools"][0]
    backend = f"{pool}:{listener}"
    down, up = tree["members"]
    await call(http, sim, "POST", f"/_sim/listeners/{listener}/stats",
               {"total_connections": 0, "request_errors": 0, "bytes_in": 0, "bytes_out": 0})
    await call(http, sim, "PATCH", f"/_sim/members/{up}", {"weight": 1})
    await call(http, sim, "PATCH", f"/_sim/members/{down}", {"weight": 1})
    first = await samples(http, made["url"])

    await call(http, sim, "POST", f"/_sim/listeners/{listener}/stats",
               {"mode": "add", "total_connections": 100, "request_errors": 10})
    await call(http, sim, "PATCH", f"/_sim/members/{down}", {"operating_status": "ERROR"})
    clock[0] += 30
    second = await samples(http, made["url"])
    assert value(second, "octavia_listener_http_responses_total", listener=listener,
                 code="5xx") == 10
    assert value(second, "octavia_listener_http_responses_total", listener=listener,
                 code="2xx") == 90
    assert value(second, "octavia_member_status", pool=backend, member=down) == 0
    assert value(second, "octavia_member_check_failures_total", pool=backend, member=down) == 3
    assert value(second, "octavia_member_check_up_down_total", pool=backend, member=down) == 1
    assert value(second, "octavia_pool_active_members", pool=backend) == 1
    assert value(second, "octavia_pool_queue_time_average_seconds", pool=backend) > 0
    # While the member is down, its downtime grows with the clock and traffic goes elsewhere.
    await call(http, sim, "POST", f"/_sim/listeners/{listener}/stats",
               {"mode": "add", "total_connections": 50})
    clock[0] += 20
    third = await samples(http, made["url"])
    assert value(third, "octavia_member_downtime_seconds_total", pool=backend, member=down) == 20
    assert value(third, "octavia_member_sessions_total", pool=backend, member=down) == \
        value(second, "octavia_member_sessions_total", pool=backend, member=down)
    assert value(third, "octavia_member_sessions_total", pool=backend, member=up) > \
        value(second, "octavia_member_sessions_total", pool=backend, member=up)
    # Counters never go back, whatever the share-out did.
    for key, before in first.items():
        if key[0].endswith("_total"):
            assert third[key] >= before, key


async def test_a_restarted_simulator_serves_its_listeners_on_the_same_ports(
        sim: Simulator, http: aiohttp.ClientSession) -> None:
    tree = await call(http, sim, "POST", "/_sim/loadbalancers", {"listeners": 1})
    made = await call(http, sim, "POST", f"/_sim/loadbalancers/{tree['loadbalancer']}/prometheus",
                      {})
    await sim.stop()
    await sim.start()
    assert await samples(http, made["url"])


async def test_an_unknown_load_balancer_or_body_is_refused(
        sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{sim.base_url}/_sim/loadbalancers/nope/prometheus") as response:
        assert response.status == 404
    lb = next(iter(sim.fleet.loadbalancers))
    async with http.post(f"{sim.base_url}/_sim/loadbalancers/{lb}/prometheus",
                         json={"protocol": "HTTP"}) as response:
        assert response.status == 400
