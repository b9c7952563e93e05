"""Floating IPs end to end: the joins and templates that must keep load balancers without one.

test_promql.py proves every expression returns *something*; these tests check *what* the
dashboards and alert descriptions show, on the scenario's load balancers with none, one and two
floating IPs (tests/e2e/scenario.py FLOATING_IPS, after apply() attached, moved and detached
one).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import wait_until
from tests.e2e.scenario import ATTACHED_BY_APPLY, DETACHED_BY_APPLY, MOVED_BY_APPLY
from tests.rules.promql_inventory import label_value_queries
from tests.support.e2e import E2E_VALUES, LB_BOARD, Stack, query_nonempty
from tests.support.e2e import expression as _expression

FLEET = "octavia-fleet.json"


def _rows(stack: Stack, expr: str, lb_id: str) -> list[dict[str, str]]:
    """The result's label sets for one load balancer, polled until it has some."""
    def probe() -> list[dict[str, str]] | None:
        rows = [s["metric"] for s in stack.prom.query(expr)
                if s["metric"].get("loadbalancer_id") == lb_id]
        return rows or None

    return wait_until(probe, f"rows of {lb_id} in {expr}", 15.0, on_timeout=stack.diagnostics)


def _addresses(rows: list[dict[str, str]]) -> list[str]:
    return sorted(row.get("floating_ip_address", "") for row in rows)


def test_the_scenario_moved_floating_ips(stack: Stack) -> None:
    t = stack.scenario.trees
    assert not t[DETACHED_BY_APPLY].floating_ips
    assert not t[MOVED_BY_APPLY[0]].floating_ips and t[MOVED_BY_APPLY[1]].floating_ips
    assert ATTACHED_BY_APPLY[1] in t[ATTACHED_BY_APPLY[0]].floating_ips


@pytest.mark.parametrize(("title", "role", "status"), [
    ("Load balancers not ACTIVE", "provisioning_error", "ERROR"),
    ("Load balancers not ACTIVE", "pending_update", "PENDING_UPDATE"),
    ("Load balancers not ONLINE", "operating_error", "ERROR"),
    ("Load balancers not ONLINE", "pool_down", "DEGRADED"),
    ("Load balancers not ONLINE", "member_error", "DEGRADED"),
])
def test_fleet_tables_list_each_floating_ip_or_one_row_without(
        stack: Stack, title: str, role: str, status: str) -> None:
    tree = stack.scenario.trees[role]
    expr = _expression(f"{FLEET}: panel {title!r} target A")
    expected = sorted(tree.floating_ips) or [""]

    def settled() -> list[dict[str, str]] | None:
        rows = _rows(stack, expr, tree.loadbalancer)
        return rows if _addresses(rows) == expected else None

    rows = wait_until(settled, f"{title}: {role} with floating IPs {expected}", 15.0,
                      on_timeout=stack.diagnostics)
    for row in rows:
        assert row["status"] == status, row
        assert row["name"] == tree.name, row
        assert row["project_id"] == tree.project_id, row
        assert row["vip_address"], row


@pytest.mark.parametrize("role", ["pending_update", "operating_error", "provisioning_error"])
def test_loadbalancer_table_shows_floating_ips_and_status(stack: Stack, role: str) -> None:
    tree = stack.scenario.trees[role]
    expr = _expression(f"{LB_BOARD}: panel 'Load balancer' target A",
                       loadbalancer=tree.loadbalancer, cloud="simulator")
    rows = _rows(stack, expr, tree.loadbalancer)
    assert _addresses(rows) == (sorted(tree.floating_ips) or [""])
    for row in rows:
        assert row["name"] == tree.name and row["vip_port_id"], row
        assert row.get("status") == ("ACTIVE" if tree.floating_ips else None), row


def _picker(stack: Stack, **typed: str) -> list[str]:
    # Grafana escapes backslashes of a single-value variable for PromQL's string syntax.
    values = {k: v.replace("\\", "\\\\") for k, v in typed.items()}
    selector, label = label_value_queries({**E2E_VALUES, "cloud": "simulator", **values})[
        f"{LB_BOARD}: variable $loadbalancer"]
    return stack.prom.label_values(label, selector)


def test_loadbalancer_picker_finds_a_floating_ip(stack: Stack) -> None:
    t = stack.scenario.trees
    everything = _picker(stack)
    for role in ("provisioning_error", "operating_error", "pending_update"):
        assert t[role].loadbalancer in everything, role  # with and without floating IPs
    assert _picker(stack, floating_ip=r"198\.51\.100\.10") == [t["operating_error"].loadbalancer]
    assert sorted(_picker(stack, floating_ip="198.51.100.2.")) == [
        t["pending_update"].loadbalancer]
    assert _picker(stack, name="e2e-provisioning_error") == [t["provisioning_error"].loadbalancer]


def test_floating_ip_counts(stack: Stack) -> None:
    # The simulator's own view of cloud "simulator" (RegionOne, the admin sees every project).
    fleet = stack.scenario.call("GET", "fleet?kinds=loadbalancers,floatingips")
    lbs = {lb["id"] for lb in fleet["loadbalancers"]}
    with_fip = {f["loadbalancer_id"] for f in fleet["floatingips"]} & lbs
    assert with_fip and lbs - with_fip
    for ref, expected in (("A", len(with_fip)), ("B", len(lbs - with_fip))):
        expr = _expression(
            f"{FLEET}: panel 'Load balancers with and without a floating IP' target {ref}",
            cloud="simulator")
        result = query_nonempty(stack, expr)
        assert [float(s["value"][1]) for s in result] == [expected], (ref, result)


def _description(stack: Stack, alertname: str, lb_id: str, wanted: str) -> str:
    def probe() -> str | None:
        for alert in stack.prom.alerts():
            labels: dict[str, Any] = alert["labels"]
            if labels["alertname"] == alertname and labels.get("loadbalancer_id") == lb_id:
                text: str = alert["annotations"]["description"]
                if wanted in text:
                    return text
        return None

    return wait_until(probe, f"{alertname} for {lb_id} saying {wanted!r}", 20.0,
                      on_timeout=stack.diagnostics)


@pytest.mark.parametrize(("alertname", "role"), [
    ("OctaviaLoadBalancerOperatingError", "operating_error"),
    ("OctaviaLoadBalancerProvisioningError", "provisioning_error"),
    ("OctaviaLoadBalancerStuckPending", "pending_update"),
    ("OctaviaLoadBalancerDegraded", "member_error"),
    ("OctaviaLoadBalancerDegraded", "pool_down"),
])
def test_loadbalancer_alerts_name_their_floating_ips(
        stack: Stack, alertname: str, role: str) -> None:
    tree = stack.scenario.trees[role]
    addresses = sorted(tree.floating_ips)
    if not addresses:
        wanted = f"({tree.loadbalancer}) of project"
    else:
        plural = "s" if len(addresses) > 1 else ""
        wanted = f"({tree.loadbalancer}, floating IP{plural} {', '.join(addresses)}) of project"
    text = _description(stack, alertname, tree.loadbalancer, wanted)
    assert text.startswith(f"Load balancer {tree.name} {wanted}"), text
