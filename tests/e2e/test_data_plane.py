"""The data plane end to end: Prometheus finds the scenario's PROMETHEUS listener through
exporter A's `/discovery/prometheus-listeners?address=floating_ip`, scrapes the simulator's
rendering of it, and the Data plane dashboard names what it scraped."""

from __future__ import annotations

from tests.e2e.harness import wait_until
from tests.support.e2e import Stack, expression, query_nonempty

BOARD = "octavia-dataplane.json"
AMPHORA_JOB = "octavia-amphora"  # conftest.py's job for the discovered listeners


def test_prometheus_discovered_the_listener_through_its_floating_ip(stack: Stack) -> None:
    tree = stack.scenario.trees["data_plane"]
    listener = stack.scenario.call("GET", f"listeners/{tree.prometheus_listener}")
    assert listener["protocol"] == "PROMETHEUS"
    targets = [t for t in stack.prom.targets() if t["labels"]["job"] == AMPHORA_JOB]
    assert len(targets) == 1, targets
    target = targets[0]
    assert target["health"] == "up", target
    assert target["scrapeUrl"] == f"http://127.0.0.1:{listener['protocol_port']}/metrics"
    labels = target["labels"]
    assert {k: v for k, v in labels.items() if k not in ("job", "instance")} == {
        "cloud": "simulator", "loadbalancer_id": tree.loadbalancer,
        "project_id": tree.project_id}
    discovered = target["discoveredLabels"]
    assert discovered["__meta_octavia_listener_id"] == tree.prometheus_listener
    assert discovered["__meta_octavia_loadbalancer_name"] == tree.name
    assert discovered["__meta_octavia_floating_ip_address"] == "127.0.0.1"


def test_the_dashboard_names_the_member_haproxy_holds_down(stack: Stack) -> None:
    tree = stack.scenario.trees["data_plane"]
    member = stack.scenario.call("GET", f"members/{tree.members[0]}")
    expr = expression(f"{BOARD}: panel 'Members DOWN in HAProxy' target A", cloud="simulator")
    rows = wait_until(lambda: query_nonempty(stack, expr), expr, 15.0)
    assert [(r["metric"]["member_id"], r["metric"].get("name", ""), r["metric"]["address"],
             r["metric"]["pool"]) for r in rows] == [
        (member["id"], member["name"], member["address"],
         f"{tree.pools[0]}:{tree.listeners[0]}")]


def test_the_5xx_share_is_the_pumped_error_share(stack: Stack) -> None:
    tree = stack.scenario.trees["data_plane"]
    expr = expression(f"{BOARD}: panel 'HTTP 5xx share per listener' target A",
                      cloud="simulator")
    rows = [r for r in query_nonempty(stack, expr)
            if r["metric"]["listener_id"] == tree.listeners[0]]
    assert len(rows) == 1, rows
    # The scenario pumps 10 request errors per 50 connections (scenario.PUMP).
    assert abs(float(rows[0]["value"][1]) - 0.2) < 0.05, rows
