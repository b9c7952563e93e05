"""Password and application-credential auth against real Keystone; metrics equal Octavia's DB."""

from __future__ import annotations

import pytest

from tests.integration import checks, harness
from tests.integration import fleet as fleet_module
from tests.support.exposition import one


@pytest.mark.parametrize("cloud_name", ["os-admin", "os-appcred"])
async def test_metrics_equal_the_truth_in_octavias_database(make_exporter, truth, cloud,
                                                            cloud_name) -> None:
    exporter = make_exporter(cloud_name)
    metrics = await exporter.cycle()
    assert exporter.cycles == [True]
    assert one(metrics, "octavia_up", cloud=cloud_name) == 1
    assert exporter.counter("octavia_authentications_total", cloud=cloud_name,
                            result="success") == 1

    now = truth()
    assert checks.mismatches(metrics, now) == []
    # Listener statistics came from the amphorae where every amphora dates from the load
    # balancer's creation, from the listeners elsewhere (no amphorae): both equal the truth.
    for endpoint in ("amphorae/{id}/stats", "listeners/{id}/stats"):
        assert exporter.counter("octavia_api_requests_total", cloud=cloud_name,
                                endpoint=endpoint, code="200") > 0, endpoint
    counts = {lab["resource"]: v for lab, v in metrics["octavia_snapshot_objects"]}
    assert {k: counts.get(k) for k in checks.RESOURCES} == {
        "loadbalancer": len(now.loadbalancers), "listener": len(now.listeners),
        "pool": len(now.pools), "member": len(now.members),
        "healthmonitor": len(now.healthmonitors),
        "amphora": sum(1 for a in now.amphorae.values() if a["status"] != "DELETED"),
    }
    # The admin sees every project, not only its own.
    projects = {lab["project_id"] for lab, _ in metrics["octavia_loadbalancer_info"]}
    assert projects == {cloud.project_id(p) for p in ("admin", *harness.TENANTS)}


async def test_every_list_was_paginated(make_exporter, fleet) -> None:
    """pagination_max_limit = 5: each bulk list took several pages, none was cut short."""
    exporter = make_exporter()
    await exporter.cycle()
    for endpoint in ("loadbalancers", "listeners", "pools", "healthmonitors", "amphorae"):
        pages = exporter.counter("octavia_api_requests_total", cloud="os-admin",
                                 endpoint=endpoint, code="200")
        assert pages >= 3, (endpoint, pages)
    assert len(fleet.lb_ids) > 2 * harness.PAGE_CAP


async def test_member_settings_with_member_details_equal_the_truth(make_exporter, truth,
                                                                   fleet) -> None:
    """Every pool's member list read: every member's weight, backup flag, monitor address
    and port, as Octavia's database has them; and the settings of every other object."""
    exporter = make_exporter(member_details=True)
    metrics = await exporter.cycle()
    now = truth()
    assert checks.mismatches(metrics, now, member_details=True) == []
    # The configured load balancer's settings are really there, not equal by being absent.
    lb_id = fleet.lb("two-listeners")
    [lb] = [lab for lab, _ in metrics["octavia_loadbalancer_info"]
            if lab["loadbalancer_id"] == lb_id]
    assert lb["vip_vnic_type"] == "direct" and len(lb["vip_sg_ids"].split(",")) == 2
    assert {lab["monitor_port"] for lab, _ in metrics["octavia_member_monitor_info"]} == {
        "", "9000"}
    http_listener = next(k for k, v in now.listeners.items()
                         if v["load_balancer_id"] == lb_id and v["protocol"] == "HTTP")
    assert one(metrics, "octavia_listener_timeout_client_data_seconds",
               listener_id=http_listener) == 120.0
    assert [(lab["timeout_member_connect"], lab["timeout_tcp_inspect"])
            for lab, _ in metrics["octavia_listener_info"]
            if lab["listener_id"] == http_listener] == [("3000", "500")]
    assert str(fleet_module.HSTS_MAX_AGE) in {lab["hsts_max_age"]
                                              for lab, _ in metrics["octavia_listener_info"]}
    paths = {lab["url_path"] for lab, _ in metrics["octavia_healthmonitor_info"]}
    assert "/health" in paths and not any("?" in p for p in paths)
    assert not any(fleet_module.SECRET in line for line in map(str, metrics.values()))
