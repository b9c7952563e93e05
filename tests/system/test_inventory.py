"""Issue 14 against the simulator: quota values, refused lists, failed lists, rule cadence."""

from __future__ import annotations

from tests.support.calls import octavia_calls
from tests.support.exporter import events
from tests.support.exposition import one

RESOURCES = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "l7policy", "l7rule")


def l7_series(metrics: dict) -> list:
    return sorted(((name, sorted(lab.items()), v) for name in metrics
                   if name.startswith(("octavia_l7policy_", "octavia_l7rule_"))
                   for lab, v in metrics[name]), key=repr)


async def test_quota_limits_defaults_and_usage(control, make_exporter) -> None:
    truth = await control.fleet()
    metrics = await make_exporter().cycle()
    for project, limits in truth["quotas"].items():
        for resource in RESOURCES:
            assert one(metrics, "octavia_quota_limit", project_id=project,
                       resource=resource) == limits[resource], (project, resource)
    for resource, limit in truth["quota_defaults"].items():
        assert one(metrics, "octavia_quota_default_limit", resource=resource) == limit
    lbs = [lb for lb in truth["loadbalancers"]]
    for project in {lb["project_id"] for lb in lbs}:
        assert one(metrics, "octavia_quota_usage", project_id=project,
                   resource="loadbalancer") == sum(1 for lb in lbs if lb["project_id"] == project)
        rules = sum(len(p["rules"]) for p in truth["l7policies"] if p["project_id"] == project)
        assert one(metrics, "octavia_quota_usage", project_id=project,
                   resource="l7rule") == rules
    # The scenario has a full quota and one above 90 %, for the views and the alerts.
    ratios = [one(metrics, "octavia_quota_usage", **lab) / v
              for lab, v in metrics["octavia_quota_limit"] if v > 0
              for lab in [{k: lab[k] for k in ("project_id", "resource")}]]
    assert max(ratios) >= 1 and any(0.9 <= r < 1 for r in ratios), ratios


async def test_refused_lists_switch_off_with_one_warning(control, make_exporter,
                                                         log_buffer) -> None:
    await control.faults({"kind": "error", "endpoint": "quotas", "status": 403},
                         {"kind": "error", "endpoint": "flavors", "status": 403})
    exporter = make_exporter()
    await exporter.cycle()
    await octavia_calls(control)
    metrics = await exporter.cycle()
    assert exporter.cycles == [True, True]
    assert one(metrics, "octavia_up", cloud="simulator") == 1
    assert not metrics.get("octavia_quota_limit") and not metrics.get("octavia_flavor_info")
    assert metrics["octavia_availability_zone_info"] and metrics["octavia_l7policy_info"]
    logged = [e["event"] for e in events(log_buffer) if e.get("level") == "warning"]
    assert logged.count("quotas_disabled") == 1 and logged.count("flavors_disabled") == 1
    calls = await octavia_calls(control)
    assert "/v2/lbaas/quotas" not in calls and "/v2/lbaas/flavors" not in calls
    assert not metrics.get("octavia_poll_errors_total")


async def test_failed_l7_calls_keep_the_last_known_objects(control, make_exporter) -> None:
    exporter = make_exporter()
    first = await exporter.cycle()
    assert first["octavia_l7rule_info"]
    await control.faults({"kind": "error", "endpoint": "l7policies", "status": 500},
                         {"kind": "error", "endpoint": "l7policies/*/rules", "status": 500})
    second = await exporter.cycle()
    assert exporter.cycles == [True, True]
    assert l7_series(second) == l7_series(first)
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="l7policies", reason="server_error") == 1
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="l7policies/{id}/rules", reason="server_error") >= 1


async def test_healthy_policies_wait_for_the_interval(control, make_exporter) -> None:
    exporter = make_exporter(l7_rules_interval=3600)
    first = await exporter.cycle()
    truth = await control.fleet()
    rules = {r["id"]: r for r in truth["l7rules"]}
    unhealthy = [p for p in truth["l7policies"] if p["rules"] and (
        p["provisioning_status"] != "ACTIVE" or any(
            (rules[r["id"]]["provisioning_status"], rules[r["id"]]["operating_status"])
            != ("ACTIVE", "ONLINE") for r in p["rules"]))]
    with_rules = [p for p in truth["l7policies"] if p["rules"]]
    assert 0 < len(unhealthy) < len(with_rules)
    await octavia_calls(control)
    second = await exporter.cycle()
    calls = await octavia_calls(control)
    assert calls["/v2/lbaas/l7policies/{l7policy_id}/rules"] == len(unhealthy)
    assert l7_series(second) == l7_series(first)

    # A rule change passes its policy through PENDING_UPDATE: read again at the next cycle.
    healthy = next(p for p in with_rules if p not in unhealthy)
    await control.call("PATCH", f"/_sim/l7rules/{healthy['rules'][0]['id']}",
                       {"operating_status": "OFFLINE"})
    await control.call("PATCH", f"/_sim/l7policies/{healthy['id']}",
                       {"provisioning_status": "PENDING_UPDATE"})
    third = await exporter.cycle()
    assert [lab["status"] for lab, v in third["octavia_l7rule_operating_status"]
            if lab["l7rule_id"] == healthy["rules"][0]["id"] and v == 1] == ["OFFLINE"]


async def keystone_calls(control) -> dict[str, int]:
    """Keystone project-list calls since the last reset, by endpoint template."""
    calls = {row["endpoint"]: row["count"] for row in await control.requests()
             if row["service"] == "keystone" and row["endpoint"].endswith("/projects")}
    await control.call("POST", "/_sim/requests/reset")
    return calls


def project_names(metrics: dict) -> dict[str, str]:
    return {lab["project_id"]: lab["project_name"]
            for lab, _ in metrics.get("octavia_project_info", [])}


async def test_project_names_are_read_once_per_refresh(control, make_exporter) -> None:
    truth = await control.fleet()
    await keystone_calls(control)
    exporter = make_exporter()
    metrics = await exporter.cycle()
    owners = {lb["project_id"] for lb in truth["loadbalancers"]} | set(truth["quotas"])
    expected = {p["id"]: p["name"] for p in truth["projects"] if p["id"] in owners}
    assert expected and project_names(metrics) == expected
    assert one(metrics, "octavia_collector_enabled", cloud="simulator",
               collector="project_names") == 1
    assert await keystone_calls(control) == {"/v3/projects": 1}
    # The default refresh is an hour: the next cycles use the cache.
    metrics = await exporter.cycle()
    assert project_names(metrics) == expected
    assert await keystone_calls(control) == {}


async def test_project_reader_falls_back_to_its_own_projects(control, make_exporter,
                                                             log_buffer) -> None:
    truth = await control.fleet()
    demo = next(p["id"] for p in truth["projects"] if p["name"] == "demo")
    await keystone_calls(control)
    exporter = make_exporter(clouds=("simulator-member",), project_names_interval=1.0)
    metrics = await exporter.cycle()
    assert project_names(metrics) == {demo: "demo"}
    assert await keystone_calls(control) == {"/v3/projects": 1, "/v3/auth/projects": 1}
    # The refusal is remembered: one call per refresh from then on, and nothing counted.
    metrics = await exporter.cycle()
    assert project_names(metrics) == {demo: "demo"}
    assert await keystone_calls(control) == {"/v3/auth/projects": 1}
    assert not metrics.get("octavia_poll_errors_total")
    assert not [e for e in events(log_buffer) if e["event"].startswith("project_names_")]


async def test_project_names_refused_twice_switch_off(control, make_exporter,
                                                      log_buffer) -> None:
    await control.faults(
        {"kind": "error", "service": "keystone", "endpoint": "projects", "status": 403},
        {"kind": "error", "service": "keystone", "endpoint": "auth/projects", "status": 403})
    await keystone_calls(control)
    exporter = make_exporter(project_names_interval=1.0)
    await exporter.cycle()
    metrics = await exporter.cycle()
    assert exporter.cycles == [True, True]
    assert not metrics.get("octavia_project_info")
    assert one(metrics, "octavia_collector_enabled", cloud="simulator",
               collector="project_names") == 0
    assert await keystone_calls(control) == {"/v3/projects": 1, "/v3/auth/projects": 1}
    warnings = [e for e in events(log_buffer) if e["event"] == "project_names_disabled"]
    assert len(warnings) == 1 and warnings[0]["url"].endswith("/identity/v3/auth/projects")
    assert not metrics.get("octavia_poll_errors_total")


async def test_failed_project_list_keeps_the_names_and_counts(control, make_exporter,
                                                              log_buffer) -> None:
    exporter = make_exporter(project_names_interval=1.0)
    first = project_names(await exporter.cycle())
    assert first
    await control.faults(
        {"kind": "error", "service": "keystone", "endpoint": "projects", "status": 500})
    metrics = await exporter.cycle()
    assert exporter.cycles == [True, True]
    assert project_names(metrics) == first
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="keystone", reason="server_error") == 1
    assert one(metrics, "octavia_last_error_info", cloud="simulator", endpoint="keystone",
               reason="server_error") == 1
    (failed,) = [e for e in events(log_buffer) if e["event"] == "project_names_failed"]
    assert failed["url"].endswith("/identity/v3/projects") and failed["reason"] == "server_error"
    assert one(metrics, "octavia_collector_enabled", cloud="simulator",
               collector="project_names") == 1


async def test_project_list_that_is_not_json_is_counted_as_malformed(control,
                                                                     make_exporter) -> None:
    exporter = make_exporter(project_names_interval=1.0)
    first = project_names(await exporter.cycle())
    await control.faults(
        {"kind": "malformed", "service": "keystone", "endpoint": "projects"})
    metrics = await exporter.cycle()
    assert first and project_names(metrics) == first
    assert exporter.counter("octavia_poll_errors_total", cloud="simulator",
                            endpoint="keystone", reason="malformed") == 1
