"""`/discovery/prometheus-listeners`: the PROMETHEUS listeners as Prometheus HTTP service
discovery target groups, from the exporter's snapshot, behind the web configuration's auth."""

from __future__ import annotations

import base64
from typing import Any

import bcrypt
from aiohttp.test_utils import TestClient, TestServer

from exporter.model.snapshot import (
    CloudHealth,
    CloudView,
    FleetSnapshot,
    FloatingIP,
    Listener,
    LoadBalancer,
)
from exporter.simulator import Simulator
from exporter.web import discovery
from exporter.web.server import build_app
from exporter.web.webconfig import WebConfig
from tests.support.exporter import Control

PATH = discovery.PATH


async def prometheus_listener(control: Control, lb_id: str) -> dict[str, Any]:
    made: dict[str, Any] = await control.call("POST", f"/_sim/loadbalancers/{lb_id}/prometheus",
                                              {"name": "metrics"})
    return made


async def test_targets_and_labels_of_each_prometheus_listener(
        sim: Simulator, control: Control, make_exporter) -> None:
    exporter = make_exporter()
    async with TestClient(TestServer(build_app(exporter.service, exporter.exposition))) as client:
        await exporter.cycle()
        empty = await client.get(PATH)
        assert empty.status == 200
        assert empty.headers["Content-Type"].startswith("application/json")
        assert await empty.json() == []

        tree = await control.call("POST", "/_sim/loadbalancers",
                                  {"name": "web", "listeners": 1, "pools": 1})
        lb_id = tree["loadbalancer"]
        made = await prometheus_listener(control, lb_id)
        fip = await control.call("POST", "/_sim/floatingips",
                                 {"loadbalancer_id": lb_id, "floating_ip_address": "127.0.0.1"})
        # Floating IPs are joined to the load balancers the cycle starts with: a new one's
        # appear a cycle later.
        await exporter.cycle()
        await exporter.cycle()
        lb = sim.fleet.loadbalancers[lb_id]

        groups = await (await client.get(PATH)).json()
        assert groups == [{
            "targets": [f"{lb.vip_address}:{made['protocol_port']}"],
            "labels": {
                "cloud": "simulator",
                "project_id": lb.project_id,
                "loadbalancer_id": lb_id,
                "__meta_octavia_address_kind": "vip",
                "__meta_octavia_listener_id": made["listener"],
                "__meta_octavia_listener_name": "metrics",
                "__meta_octavia_listener_protocol_port": str(made["protocol_port"]),
                "__meta_octavia_listener_provisioning_status": "ACTIVE",
                "__meta_octavia_listener_operating_status": "ONLINE",
                "__meta_octavia_listener_admin_state_up": "true",
                "__meta_octavia_loadbalancer_name": "web",
                "__meta_octavia_loadbalancer_provisioning_status": "ACTIVE",
                "__meta_octavia_loadbalancer_operating_status": lb.operating_status,
                "__meta_octavia_loadbalancer_provider": "amphora",
                "__meta_octavia_vip_address": lb.vip_address,
                "__meta_octavia_floating_ip_address": "127.0.0.1",
                "__meta_octavia_project_name": groups[0]["labels"][
                    "__meta_octavia_project_name"],
            },
        }]
        # Through the floating IP: the simulator serves the listener on 127.0.0.1, so the
        # target answers like an amphora's proxy would.
        via_fip = await (await client.get(PATH, params={"address": "floating_ip"})).json()
        assert via_fip[0]["targets"] == [f"127.0.0.1:{made['protocol_port']}"]
        assert via_fip[0]["labels"]["__meta_octavia_address_kind"] == "floating_ip"
        async with client.session.get(f"http://{via_fip[0]['targets'][0]}/metrics") as scrape:
            assert scrape.status == 200
            assert "octavia_member_status{" in await scrape.text()

        # Load balancers without a floating IP are left out of the floating IP list.
        other = await control.call("POST", "/_sim/loadbalancers", {"listeners": 1})
        await prometheus_listener(control, other["loadbalancer"])
        await exporter.cycle()
        assert len(await (await client.get(PATH)).json()) == 2
        via_fip = await (await client.get(PATH, params={"address": "floating_ip"})).json()
        assert [g["labels"]["loadbalancer_id"] for g in via_fip] == [lb_id]

        await control.call("DELETE", f"/_sim/floatingips/{fip['id']}")
        assert (await client.get(PATH, params={"cloud": "elsewhere"})).status == 200
        assert await (await client.get(PATH, params={"cloud": "elsewhere"})).json() == []
        assert (await client.get(PATH, params={"address": "dns"})).status == 400


async def test_discovery_is_behind_basic_auth(make_exporter) -> None:
    exporter = make_exporter()
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4))
    config = WebConfig(users={"prometheus": hashed})
    async with TestClient(TestServer(build_app(exporter.service, exporter.exposition,
                                               config))) as client:
        await exporter.cycle()
        assert (await client.get(PATH)).status == 401
        token = base64.b64encode(b"prometheus:pw").decode()
        answer = await client.get(PATH, headers={"Authorization": f"Basic {token}"})
        assert answer.status == 200
        assert await answer.json() == []


def test_ipv6_addresses_are_bracketed() -> None:
    assert discovery._host_port("2001:db8::1", 9100) == "[2001:db8::1]:9100"
    assert discovery._host_port("192.0.2.1", 9100) == "192.0.2.1:9100"


def test_the_floating_ip_taken_is_an_active_one_then_the_lowest() -> None:
    lb = LoadBalancer(id="lb1", name="web", project_id="p1", provisioning_status="ACTIVE",
                      operating_status="ONLINE", admin_state_up=True, vip_address="2001:db8::5")
    listener = Listener(id="l1", name="metrics", project_id="p1", loadbalancer_id="lb1",
                        provisioning_status="ACTIVE", operating_status="ONLINE",
                        admin_state_up=True, protocol="PROMETHEUS", protocol_port=9100)
    fips = {f.id: f for f in (
        FloatingIP(id="f1", address="198.51.100.1", loadbalancer_id="lb1", status="DOWN"),
        FloatingIP(id="f2", address="198.51.100.9", loadbalancer_id="lb1", status="ACTIVE"),
        FloatingIP(id="f3", address="198.51.100.5", loadbalancer_id="lb1", status="ACTIVE"),
    )}
    snapshot = FleetSnapshot(cloud="prod", taken_at=0.0, loadbalancers={"lb1": lb},
                             listeners={"l1": listener}, floating_ips=fips)
    views = [CloudView(CloudHealth("prod"), snapshot)]
    (group,) = discovery.target_groups(views, "floating_ip")
    assert group["targets"] == ["198.51.100.5:9100"]
    (group,) = discovery.target_groups(views, "vip", cloud="prod")
    assert group["targets"] == ["[2001:db8::5]:9100"]
    assert group["labels"]["__meta_octavia_floating_ip_address"] == "198.51.100.5"
    assert discovery.target_groups(views, "vip", cloud="other") == []
