"""openstacksdk's load-balancer and network proxies against the simulator: pagination, policy,
stats, floating IPs."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

import pytest

from exporter.simulator import Simulator
from tests.support.simulator import spec


@pytest.fixture
async def capped() -> Any:
    sim = Simulator(spec(lbs=23), page_cap=5)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_openstacksdk_lists_everything(capped: Simulator, tmp_path: Path) -> None:
    import openstack
    from openstack import config as os_config

    path = tmp_path / "clouds.yaml"
    capped.write_clouds_yaml(str(path))

    def work() -> dict[str, Any]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loader = os_config.OpenStackConfig(config_files=[str(path)], load_envvars=False)
            admin = openstack.connection.Connection(config=loader.get_one("simulator"))
            demo = openstack.connection.Connection(config=loader.get_one("simulator-member"))
            out: dict[str, Any] = {
                "lbs": [lb.id for lb in admin.load_balancer.load_balancers()],
                "amphorae": len(list(admin.load_balancer.amphorae())),
                "demo_lbs": [lb.id for lb in demo.load_balancer.load_balancers()],
            }
            first = out["lbs"][0]
            out["stats"] = admin.load_balancer.get_load_balancer_statistics(first).bytes_in
            try:
                list(demo.load_balancer.amphorae())
                out["demo_amphorae"] = "allowed"
            except openstack.exceptions.ForbiddenException:
                out["demo_amphorae"] = "forbidden"
            return out

    result = await asyncio.to_thread(work)
    fleet = capped.fleet
    assert result["lbs"] == fleet.index["loadbalancers"].ids()
    assert result["amphorae"] == len(fleet.amphorae)
    demo_project = capped.identity.project_id("demo")
    assert set(result["demo_lbs"]) == {
        lb.id for lb in fleet.loadbalancers.values() if lb.project_id == demo_project}
    assert result["stats"] == fleet.loadbalancer_stats(fleet.loadbalancers[result["lbs"][0]])[
        "bytes_in"]
    assert result["demo_amphorae"] == "forbidden"


async def test_openstacksdk_lists_floating_ips(tmp_path: Path) -> None:
    """Version discovery at /networking/, then the list (with Neutron's pagination when the
    server caps pages)."""
    import openstack
    from openstack import config as os_config

    sim = Simulator(spec(lbs=23), neutron_page_cap=4)
    await sim.start()
    try:
        path = tmp_path / "clouds.yaml"
        sim.write_clouds_yaml(str(path))

        def work() -> dict[str, Any]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loader = os_config.OpenStackConfig(config_files=[str(path)],
                                                   load_envvars=False)
                admin = openstack.connection.Connection(config=loader.get_one("simulator"))
                demo = openstack.connection.Connection(
                    config=loader.get_one("simulator-member"))
                ips = list(admin.network.ips())
                return {
                    "ids": [ip.id for ip in ips],
                    "ports": {ip.id: ip.port_id for ip in ips},
                    "demo": [ip.id for ip in demo.network.ips()],
                }

        result = await asyncio.to_thread(work)
    finally:
        await sim.stop()
    fleet = sim.fleet
    assert result["ids"] == sorted(fleet.floatingips)
    assert result["ports"] == {f.id: f.port_id for f in fleet.floatingips.values()}
    demo_project = sim.identity.project_id("demo")
    assert result["demo"] == sorted(
        f.id for f in fleet.floatingips.values() if f.project_id == demo_project)
