"""Extra regions, and the command line."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import yaml

from exporter.simulator import Simulator
from exporter.simulator.cli import build_parser, spec_from_args
from tests.support.simulator import get_json, spec


async def test_two_regions_have_their_own_fleets(http: aiohttp.ClientSession) -> None:
    sim = Simulator(spec(), regions=["RegionOne", "RegionTwo"])
    await sim.start()
    try:
        body = {"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": "sim-appcred-id", "secret": "sim-appcred-secret"},
        }}}
        async with http.post(f"{sim.auth_url}/auth/tokens", json=body) as resp:
            token = await resp.json()
            headers = {"X-Auth-Token": resp.headers["X-Subject-Token"]}
        (lb_service,) = [s for s in token["token"]["catalog"] if s["type"] == "load-balancer"]
        urls = {(e["region"], e["interface"]): e["url"] for e in lb_service["endpoints"]}
        assert urls[("RegionOne", "public")] == f"{sim.base_url}/load-balancer"
        assert urls[("RegionTwo", "public")] == f"{sim.base_url}/RegionTwo/load-balancer"
        ids = {}
        for region, url in (("RegionOne", urls[("RegionOne", "public")]),
                            ("RegionTwo", urls[("RegionTwo", "public")])):
            status, page = await get_json(http, f"{url}/v2/lbaas/loadbalancers", headers)
            assert status == 200
            ids[region] = {o["id"] for o in page["loadbalancers"]}
            assert ids[region] == set(sim.regions[region].fleet.loadbalancers)
        assert not ids["RegionOne"] & ids["RegionTwo"]
        _, dump = await get_json(http, f"{sim.base_url}/_sim/fleet?region=RegionTwo")
        assert dump["region"] == "RegionTwo"
        assert {lb["id"] for lb in dump["loadbalancers"]} == ids["RegionTwo"]
        assert (await get_json(http, f"{sim.base_url}/_sim/fleet?region=Nowhere"))[0] == 404
        _, counts = await get_json(http, f"{sim.base_url}/_sim/requests")
        assert {r["region"] for r in counts["requests"] if r["service"] == "octavia"} == {
            "RegionOne", "RegionTwo"}
        (net_service,) = [s for s in token["token"]["catalog"] if s["type"] == "network"]
        net_urls = {(e["region"], e["interface"]): e["url"] for e in net_service["endpoints"]}
        assert net_urls[("RegionTwo", "internal")] == f"{sim.base_url}/RegionTwo/networking"
        status, fips = await get_json(
            http, f"{net_urls[('RegionTwo', 'public')]}/v2.0/floatingips", headers)
        assert status == 200
        assert {f["id"] for f in fips["floatingips"]} == set(
            sim.regions["RegionTwo"].fleet.floatingips)
        assert not set(sim.regions["RegionOne"].fleet.floatingips) & set(
            sim.regions["RegionTwo"].fleet.floatingips)
    finally:
        await sim.stop()


def test_cli_flags_map_to_the_spec() -> None:
    args = build_parser().parse_args([
        "--lbs", "7", "--seed", "3", "--amphorae-per-lb", "0", "--members-per-pool", "9",
        "--healthmonitor-share", "0.5", "--tick", "2", "--page-cap", "50",
    ])
    spec = spec_from_args(args)
    assert (spec.lbs, spec.seed, spec.amphorae_per_lb, spec.members_per_pool) == (7, 3, 0, 9)
    assert spec.healthmonitor_share == 0.5
    assert (args.tick, args.page_cap) == (2.0, 50)
    assert (args.neutron, args.neutron_page_cap) == (True, -1)
    args = build_parser().parse_args(["--no-neutron", "--neutron-page-cap", "20",
                                      "--floatingip-share", "0.3"])
    assert (args.neutron, args.neutron_page_cap) == (False, 20)
    assert spec_from_args(args).floatingip_share == 0.3


async def test_cli_serves_until_sigint(tmp_path: Path, http: aiohttp.ClientSession) -> None:
    clouds = tmp_path / "clouds.yaml"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "exporter.simulator", "--lbs", "3", "--seed", "2",
        "--write-clouds-yaml", str(clouds),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    try:
        assert proc.stdout is not None
        lines = []
        while True:
            line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
            assert line, "the simulator exited early"
            lines.append(line)
            if line.startswith("clouds.yaml:"):
                break
        auth_url = next(ln.split()[1] for ln in lines if ln.startswith("Keystone:"))
        config = yaml.safe_load(clouds.read_text())
        assert set(config["clouds"]) == {"simulator", "simulator-member", "simulator-appcred"}
        assert config["clouds"]["simulator"]["auth"]["auth_url"] == auth_url
        status, body = await get_json(http, auth_url)
        assert status == 200 and body["version"]["id"] == "v3.14"
    finally:
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
