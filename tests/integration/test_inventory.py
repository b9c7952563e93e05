"""Issue 14 against the real Octavia: L7 policies and rules, quotas, flavors, zones, providers.

Every series is compared with Octavia's database (L7 objects, flavors, zones, object counts) or
with Octavia's own answer where the value is computed by the API (a project's quota, the
defaults, the providers), as the admin and as a project-scoped reader.
"""

from __future__ import annotations

from typing import Any

import requests

from tests.integration import fleet as fleet_module
from tests.integration import harness
from tests.support.exposition import Samples, one, status_of

RESOURCES = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "l7policy", "l7rule")


def labels_of(metrics: Samples, name: str, key: str) -> dict[str, dict[str, str]]:
    return {lab[key]: lab for lab, _ in metrics.get(name, [])}


def values_of(metrics: Samples, name: str, *keys: str) -> dict[tuple[str, ...], float]:
    return {tuple(lab[k] for k in keys): v for lab, v in metrics.get(name, [])}


def octavia(cloud: harness.Cloud, path: str, token: str) -> Any:
    answer = requests.get(f"{cloud.octavia_url}/{path}", timeout=30,
                          headers={"X-Auth-Token": token, "Accept": "application/json"})
    assert answer.status_code == 200, (path, answer.status_code, answer.text)
    return answer.json()


def keystone(cloud: harness.Cloud, path: str, token: str) -> tuple[int, Any]:
    answer = requests.get(f"{cloud.auth_url}/{path}", timeout=30,
                          headers={"X-Auth-Token": token, "Accept": "application/json"})
    return answer.status_code, answer.json()


def project_names(metrics: Samples) -> dict[str, str]:
    return {lab["project_id"]: lab["project_name"]
            for lab, _ in metrics.get("octavia_project_info", [])}


def check(metrics: Samples, cloud: harness.Cloud, db: dict[str, Any], projects: set[str],
          token: str) -> list[str]:
    """Every way the issue-14 series differ from Octavia (empty: they agree)."""
    found: list[str] = []

    def same(what: str, got: Any, want: Any) -> None:
        if got != want:
            found.append(f"{what}: exporter {got!r}, Octavia {want!r}")

    policies = {k: v for k, v in db["l7policies"].items() if v["project_id"] in projects}
    info = labels_of(metrics, "octavia_l7policy_info", "l7policy_id")
    same("l7policy ids", set(info), set(policies))
    for pid, row in policies.items():
        lab = info.get(pid, {})
        same(f"l7policy {pid} info",
             {k: lab.get(k) for k in ("name", "action", "position", "redirect_url",
                                       "redirect_prefix", "redirect_pool_id", "listener_id",
                                       "loadbalancer_id", "project_id")},
             {"name": row["name"] or "", "action": row["action"],
              "position": str(row["position"]), "redirect_url": row["redirect_url"] or "",
              "redirect_prefix": row["redirect_prefix"] or "",
              "redirect_pool_id": row["redirect_pool_id"] or "",
              "listener_id": row["listener_id"], "loadbalancer_id": row["load_balancer_id"],
              "project_id": row["project_id"]})
        for field in ("provisioning_status", "operating_status"):
            same(f"l7policy {pid} {field}",
                 status_of(metrics, f"octavia_l7policy_{field}", l7policy_id=pid), row[field])
    rules = {k: v for k, v in db["l7rules"].items() if v["project_id"] in projects}
    rule_info = labels_of(metrics, "octavia_l7rule_info", "l7rule_id")
    same("l7rule ids", set(rule_info), set(rules))
    for rid, row in rules.items():
        lab = rule_info.get(rid, {})
        same(f"l7rule {rid} info",
             {k: lab.get(k) for k in ("rule_type", "compare_type", "key", "invert",
                                       "l7policy_id", "listener_id", "loadbalancer_id")},
             {"rule_type": row["type"], "compare_type": row["compare_type"],
              "key": row["key"] or "", "invert": "true" if row["invert"] else "false",
              "l7policy_id": row["l7policy_id"], "listener_id": row["listener_id"],
              "loadbalancer_id": row["load_balancer_id"]})
        for field in ("provisioning_status", "operating_status"):
            same(f"l7rule {rid} {field}",
                 status_of(metrics, f"octavia_l7rule_{field}", l7rule_id=rid), row[field])

    flavors = labels_of(metrics, "octavia_flavor_info", "flavor_id")
    same("flavors", {k: (v["name"], v["enabled"], v["flavor_profile_id"], v["description"])
                     for k, v in flavors.items()},
         {k: (v["name"], "true" if v["enabled"] else "false", v["flavor_profile_id"],
              v["description"] or "") for k, v in db["flavors"].items()})
    zones = labels_of(metrics, "octavia_availability_zone_info", "availability_zone")
    same("availability zones",
         {k: (v["enabled"], v["availability_zone_profile_id"], v["description"])
          for k, v in zones.items()},
         {k: ("true" if v["enabled"] else "false", v["availability_zone_profile_id"],
              v["description"] or "") for k, v in db["availability_zones"].items()})
    same("providers", {k: v["description"] for k, v in
                       labels_of(metrics, "octavia_provider_info", "provider").items()},
         {p["name"]: p["description"] for p in
          octavia(cloud, "v2/lbaas/providers", token)["providers"]})

    # Quotas: what Octavia answers for each project, and what it counts in its database.
    limits = values_of(metrics, "octavia_quota_limit", "project_id", "resource")
    usage = values_of(metrics, "octavia_quota_usage", "project_id", "resource")
    same("quota projects", {p for p, _ in limits}, projects)
    for project in projects:
        quota = octavia(cloud, f"v2/lbaas/quotas/{project}", token)["quota"]
        for resource in RESOURCES:
            same(f"quota {project} {resource}", limits.get((project, resource)),
                 quota[resource])
            same(f"usage {project} {resource}", usage.get((project, resource)),
                 db["usage"].get(project, {}).get(resource, 0))
    some = sorted(projects)[0]
    defaults = octavia(cloud, f"v2/lbaas/quotas/{some}/default", token)["quota"]
    same("quota defaults", values_of(metrics, "octavia_quota_default_limit", "resource"),
         {(r,): defaults[r] for r in RESOURCES})
    return found


async def test_admin_sees_every_l7_object_quota_and_offering(make_exporter, cloud,
                                                              truth) -> None:
    exporter = make_exporter("os-admin")
    metrics = await exporter.cycle()
    db = fleet_module.read_inventory_truth(cloud.db_path)
    projects = {lb["project_id"] for lb in truth().loadbalancers.values()}
    problems = check(metrics, cloud, db, projects, cloud.token())
    assert not problems, "\n".join(problems)
    # The fleet has what the checks need to mean something.
    assert len(db["l7policies"]) >= 6 and len(db["l7rules"]) >= 6
    assert {row["provisioning_status"] for row in db["l7policies"].values()} >= {"ACTIVE",
                                                                                 "ERROR"}
    assert {r["enabled"] for r in db["flavors"].values()} == {0, 1}
    assert fleet_module.SECRET not in exporter.text()
    # Two calls a cycle for quotas, one per policy with rules, one list each for the rest.
    counter = exporter.counter
    assert counter("octavia_api_requests_total", cloud="os-admin",
                   endpoint="quotas/{project_id}/default", code="200") == 1
    with_rules = sum(1 for p in db["l7policies"]
                     if any(r["l7policy_id"] == p for r in db["l7rules"].values()))
    assert counter("octavia_api_requests_total", cloud="os-admin",
                   endpoint="l7policies/{id}/rules", code="200") == with_rules
    # Project names: Keystone's own list, for every project the exporter has series for.
    status, listed = keystone(cloud, "projects", cloud.token())
    assert status == 200, listed
    named = {lab["project_id"] for lab, _ in metrics["octavia_quota_limit"]} | projects
    names = {p["id"]: p["name"] for p in listed["projects"] if p["id"] in named}
    assert names and set(names) == named
    assert project_names(metrics) == names
    assert one(metrics, "octavia_collector_enabled", cloud="os-admin",
               collector="project_names") == 1


async def test_project_reader_sees_its_own_l7_objects_and_quota(make_exporter, cloud) -> None:
    exporter = make_exporter("os-member")
    metrics = await exporter.cycle()
    tenant = cloud.project_id(harness.TENANTS[0])
    db = fleet_module.read_inventory_truth(cloud.db_path)
    problems = check(metrics, cloud, db, {tenant}, cloud.token("viewer", harness.TENANTS[0]))
    assert not problems, "\n".join(problems)
    assert any(p["project_id"] == tenant for p in db["l7policies"].values())
    # tenant-a is at its load-balancer quota: the ratio the alert uses is 1.
    limits = values_of(metrics, "octavia_quota_limit", "project_id", "resource")
    usage = values_of(metrics, "octavia_quota_usage", "project_id", "resource")
    assert usage[(tenant, "loadbalancer")] == limits[(tenant, "loadbalancer")] == 4
    refused = [(lab["endpoint"], lab["code"]) for lab, v in
               metrics["octavia_api_requests_total"] if v and lab["code"] != "200"]
    assert refused == [("amphorae", "403")]
    # Keystone refuses the reader its project list and gives it its own projects instead.
    token = cloud.token("viewer", harness.TENANTS[0])
    status, _ = keystone(cloud, "projects", token)
    assert status == 403
    status, mine = keystone(cloud, "auth/projects", token)
    assert status == 200
    names = {p["id"]: p["name"] for p in mine["projects"] if p["id"] == tenant}
    assert names == {tenant: harness.TENANTS[0]}
    assert project_names(metrics) == names
    assert one(metrics, "octavia_collector_enabled", cloud="os-member",
               collector="project_names") == 1
    assert not [lab for lab, _ in metrics.get("octavia_poll_errors_total", [])
                if lab["endpoint"] == "keystone"]

