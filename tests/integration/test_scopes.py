"""A project-scoped member/reader sees its own project only; amphorae switch off with one warning."""

from __future__ import annotations

from tests.integration import checks, harness
from tests.support.exporter import events
from tests.support.exposition import one


async def test_project_member_sees_only_its_project(make_exporter, cloud, truth,
                                                     log_buffer) -> None:
    exporter = make_exporter("os-member")
    first = await exporter.cycle()
    metrics = await exporter.cycle()
    assert exporter.cycles == [True, True]
    assert one(metrics, "octavia_up", cloud="os-member") == 1

    tenant = cloud.project_id(harness.TENANTS[0])
    mine = truth().of_projects({tenant})
    assert len(mine.loadbalancers) >= 3
    for samples in (first, metrics):
        assert checks.mismatches(samples, mine, amphorae=False) == []
    assert {lab["project_id"] for lab, _ in metrics["octavia_loadbalancer_info"]} == {tenant}

    # Amphorae answered 403 once; the collector is off and says so exactly once.
    assert one(metrics, "octavia_collector_enabled", cloud="os-member",
               collector="amphorae") == 0
    warnings = [e for e in events(log_buffer) if e.get("event") == "amphorae_disabled"]
    assert len(warnings) == 1 and warnings[0]["level"] == "warning"
    assert exporter.counter("octavia_api_requests_total", cloud="os-member",
                            endpoint="amphorae", code="403") == 1
    # Nothing else was refused or failed.
    refused = [(lab["endpoint"], lab["code"]) for lab, v in
               metrics["octavia_api_requests_total"] if v and lab["code"] not in ("200",)]
    assert refused == [("amphorae", "403")]
    assert not metrics.get("octavia_poll_errors_total")


async def test_admin_sees_every_project(make_exporter, cloud, truth) -> None:
    exporter = make_exporter("os-admin")
    metrics = await exporter.cycle()
    everything = truth()
    assert {lab["project_id"] for lab, _ in metrics["octavia_loadbalancer_info"]} == {
        lb["project_id"] for lb in everything.loadbalancers.values()}
    assert len({lb["project_id"] for lb in everything.loadbalancers.values()}) == 4
    assert one(metrics, "octavia_collector_enabled", cloud="os-admin", collector="amphorae") == 1
