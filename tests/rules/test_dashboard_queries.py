"""Evaluate the trickiest dashboard queries with promtool against synthetic series.

The expressions are read from the committed dashboards (variables substituted), so this tests
what ships. Two replicas (exp-a, exp-b) and state-set zeros are part of the data on purpose;
the Data plane board's series are Octavia's PROMETHEUS listener's, with the target labels the
exporter's discovery gives them.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.rules import promql_inventory

RULES = promql_inventory.ALERTS_DIR / "octavia-recording.rules.yml"


def _expr(board: str, title: str, ref: str = "A", values: dict[str, str] | None = None) -> str:
    data = json.loads((promql_inventory.DASHBOARDS_DIR / board).read_text(encoding="utf-8"))
    for panel in promql_inventory._panels(data["panels"]):
        if panel["title"] == title:
            for tgt in panel.get("targets", []):  # rows have none (one is titled like a panel)
                if tgt["refId"] == ref:
                    return promql_inventory.substitute(tgt["expr"], values)
    raise KeyError(f"{board}: {title} {ref}")


def _series(name: str, labels: dict[str, str], values: str, replicas: int = 1) -> list[dict[str, str]]:
    out = []
    for instance in ["exp-a:9180", "exp-b:9180"][:replicas]:
        body = ",".join(f'{k}="{v}"' for k, v in {**labels, "instance": instance}.items())
        out.append({"series": f"{name}{{{body}}}", "values": values})
    return out


def _run(promtool: str, tmp_path: Path, series: list[dict[str, str]],
         cases: list[dict[str, Any]]) -> None:
    test = {
        "rule_files": [str(RULES)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": cases}],
    }
    path = tmp_path / "dashboard_queries.test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False), encoding="utf-8")
    result = subprocess.run(
        [promtool, "test", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_fleet_and_loadbalancer_queries(promtool: str, tmp_path: Path) -> None:
    lb1 = {"cloud": "prod", "loadbalancer_id": "lb1", "project_id": "p1"}
    lb2 = {"cloud": "prod", "loadbalancer_id": "lb2", "project_id": "p1"}
    pool1 = {**lb1, "pool_id": "pool1"}
    series: list[dict[str, str]] = []
    series += _series("octavia_loadbalancer_info", {**lb1, "name": "web", "vip_address": "203.0.113.5"}, "1x10", 2)
    series += _series("octavia_loadbalancer_info", {**lb2, "name": "api", "vip_address": "203.0.113.6"}, "1x10", 2)
    series += _series("octavia_pool_info", {**pool1, "name": "web-pool", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}, "1x10", 2)
    series += _series("octavia_pool_members", pool1, "3x10", 2)
    # Pool 1 is DEGRADED (state set: its ONLINE series is 0).
    series += _series("octavia_pool_operating_status", {**pool1, "status": "DEGRADED"}, "1x10", 2)
    series += _series("octavia_pool_operating_status", {**pool1, "status": "ONLINE"}, "0x10", 2)
    for member, status in [("m1", "ERROR"), ("m2", "ERROR"), ("m3", "ONLINE")]:
        series += _series("octavia_member_operating_status", {**pool1, "member_id": member, "status": status}, "1x10", 2)
    # lb1 moves 1000 B/s in and 3000 B/s out, lb2 100 B/s in and nothing out.
    series += _series("octavia_loadbalancer_stats_bytes_in_total", lb1, "0+60000x10", 2)
    series += _series("octavia_loadbalancer_stats_bytes_out_total", lb1, "0+180000x10", 2)
    series += _series("octavia_loadbalancer_stats_bytes_in_total", lb2, "0+6000x10", 2)
    series += _series("octavia_loadbalancer_stats_bytes_out_total", lb2, "0x10", 2)

    cases = [
        {
            "expr": _expr("octavia-fleet.json", "Top 10 load balancers by traffic"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": '{cloud="prod",loadbalancer_id="lb1",project_id="p1",name="web"}', "value": 4000},
                {"labels": '{cloud="prod",loadbalancer_id="lb2",project_id="p1",name="api"}', "value": 100},
            ],
        },
        {
            "expr": _expr("octavia-fleet.json", "Pools with members down", "A"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": '{cloud="prod",loadbalancer_id="lb1",project_id="p1",pool_id="pool1",name="web-pool"}', "value": 2},
            ],
        },
        {
            "expr": _expr("octavia-fleet.json", "Pools with members down", "B"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": '{cloud="prod",loadbalancer_id="lb1",project_id="p1",pool_id="pool1",name="web-pool"}', "value": 3},
            ],
        },
        {
            "expr": _expr("octavia-loadbalancer.json", "Pool operating status"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": '{cloud="prod",pool_id="pool1",name="web-pool"}', "value": 4},
            ],
        },
        {
            "expr": _expr("octavia-fleet.json", "Members by operating status"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": '{status="ERROR"}', "value": 2},
                {"labels": '{status="ONLINE"}', "value": 1},
            ],
        },
    ]
    _run(promtool, tmp_path, series, cases)


def _variable_selector(board: str, name: str, values: dict[str, str]) -> str:
    """The selector of a label_values() variable, with `values` substituted."""
    data = json.loads((promql_inventory.DASHBOARDS_DIR / board).read_text(encoding="utf-8"))
    for var in data["templating"]["list"]:
        if var["name"] == name:
            promql = promql_inventory.variable_query_to_promql(var["query"]["query"])
            assert promql is not None
            return promql_inventory.substitute(promql, values)
    raise KeyError(f"{board}: ${name}")


def test_floating_ip_queries(promtool: str, tmp_path: Path) -> None:
    """Floating IPs are left-joined: load balancers with none stay, several give several rows."""
    lb = {name: {"cloud": "prod", "loadbalancer_id": name, "project_id": project}
          for name, project in (("lb1", "p1"), ("lb2", "p1"), ("lb3", "p2"), ("lb4", "p2"))}
    lab = {"cloud": "lab", "loadbalancer_id": "lb5", "project_id": "p1"}
    vip = {"lb1": "203.0.113.5", "lb2": "203.0.113.6", "lb3": "203.0.113.7", "lb4": "203.0.113.8"}
    names = {"lb1": "web", "lb2": "api", "lb3": "db", "lb4": "cache"}
    states = {  # provisioning, operating
        "lb1": ("ERROR", "ERROR"), "lb2": ("ACTIVE", "ONLINE"),
        "lb3": ("PENDING_UPDATE", "DEGRADED"), "lb4": ("ACTIVE", "ERROR"),
    }
    # lb1 one floating IP, lb2 and lb3 two, lb4 none; cloud "lab" does not collect them.
    fips = {"lb1": [("198.51.100.7", "f1", "ACTIVE")],
            "lb2": [("198.51.100.20", "f2", "ACTIVE"), ("198.51.100.21", "f3", "ACTIVE")],
            "lb3": [("198.51.100.8", "f4", "ACTIVE"), ("198.51.100.9", "f5", "DOWN")]}
    series: list[dict[str, str]] = []
    for name, labels in lb.items():
        series += _series("octavia_loadbalancer_info", {**labels, "name": names[name],
                          "vip_address": vip[name], "vip_port_id": f"port-{name}"}, "1x10", 2)
        prov, oper = states[name]
        series += _series("octavia_loadbalancer_provisioning_status", {**labels, "status": prov},
                          "1x10", 2)
        series += _series("octavia_loadbalancer_operating_status", {**labels, "status": oper},
                          "1x10", 2)
        for address, fip_id, status in fips.get(name, []):
            series += _series("octavia_loadbalancer_floating_ip_info", {
                **labels, "floating_ip_address": address, "floating_ip_id": fip_id,
                "status": status}, "1x10", 2)
    series += _series("octavia_loadbalancer_info", {**lab, "name": "lab", "vip_address": "10.0.0.5"},
                      "1x10", 2)
    series += _series("octavia_loadbalancer_operating_status", {**lab, "status": "ERROR"}, "1x10", 2)
    series += _series("octavia_collector_enabled", {"cloud": "prod", "collector": "floating_ips"},
                      "1x10", 2)
    series += _series("octavia_collector_enabled", {"cloud": "lab", "collector": "floating_ips"},
                      "0x10", 2)
    # One attach a minute, seen by both replicas.
    series += _series("octavia_floating_ip_changes_total", {"cloud": "prod", "change": "attached"},
                      "0+1x10", 2)

    def row(name: str, status: str, fip: str | None) -> str:
        labels = {**lb[name], "status": status, "name": names[name], "vip_address": vip[name]}
        if fip:
            labels["floating_ip_address"] = fip
        return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"

    fleet = "octavia-fleet.json"
    lb_board = "octavia-loadbalancer.json"
    def info_row(name: str, fip: tuple[str, str] | None) -> str:
        labels = {**lb[name], "name": names[name], "vip_address": vip[name],
                  "vip_port_id": f"port-{name}"}
        if fip:
            labels |= {"floating_ip_address": fip[0], "status": fip[1]}
        return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"

    cases = [
        {
            "expr": _expr(fleet, "Load balancers not ACTIVE"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": row("lb1", "ERROR", "198.51.100.7"), "value": 1},
                {"labels": row("lb3", "PENDING_UPDATE", "198.51.100.8"), "value": 1},
                {"labels": row("lb3", "PENDING_UPDATE", "198.51.100.9"), "value": 1},
            ],
        },
        {
            "expr": _expr(fleet, "Load balancers not ONLINE"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": row("lb1", "ERROR", "198.51.100.7"), "value": 1},
                {"labels": row("lb3", "DEGRADED", "198.51.100.8"), "value": 1},
                {"labels": row("lb3", "DEGRADED", "198.51.100.9"), "value": 1},
                {"labels": row("lb4", "ERROR", None), "value": 1},
                {"labels": '{cloud="lab",loadbalancer_id="lb5",project_id="p1",status="ERROR",'
                           'name="lab",vip_address="10.0.0.5"}', "value": 1},
            ],
        },
        {
            "expr": _expr(fleet, "Load balancers with and without a floating IP", "A"),
            "eval_time": "6m",
            "exp_samples": [{"labels": "{}", "value": 3}],
        },
        {
            # lb5 is in a cloud that does not collect floating IPs: not counted as "without".
            "expr": _expr(fleet, "Load balancers with and without a floating IP", "B"),
            "eval_time": "6m",
            "exp_samples": [{"labels": "{}", "value": 1}],
        },
        {
            # Both replicas count the same attach: once. increase() extrapolates 4 → 5 in 5m.
            "expr": _expr(fleet, "Floating IP changes"),
            "eval_time": "6m",
            "exp_samples": [{"labels": '{change="attached"}', "value": 5}],
        },
        {
            "expr": _expr(lb_board, "Load balancer", values={"loadbalancer": "lb3"}),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": info_row("lb3", ("198.51.100.8", "ACTIVE")), "value": 1},
                {"labels": info_row("lb3", ("198.51.100.9", "DOWN")), "value": 1},
            ],
        },
        {
            "expr": _expr(lb_board, "Load balancer", values={"loadbalancer": "lb4"}),
            "eval_time": "6m",
            "exp_samples": [{"labels": info_row("lb4", None), "value": 1}],
        },
    ]
    # The load balancer picker: by floating IP, by name, or neither (every load balancer).
    # Grafana escapes backslashes in a single-value variable for PromQL's string syntax
    # (prometheusRegularEscape), so what is typed is the regex Prometheus gets.
    for typed, expected in (
        ({"floating_ip": r"198\.51\.100\.9"}, ["lb3"]),
        ({"floating_ip": "198.51.100.2.*"}, ["lb2"]),
        ({"floating_ip": "198.51.100"}, []),  # anchored, like every PromQL regex
        ({"name": "cache"}, ["lb4"]),
        ({"cloud": "prod"}, ["lb1", "lb2", "lb3", "lb4"]),
    ):
        values = {k: v.replace("\\", "\\\\") for k, v in typed.items()}
        selector = _variable_selector(lb_board, "loadbalancer", values)
        cases.append({
            "expr": f"max by (loadbalancer_id) ({selector})",
            "eval_time": "6m",
            "exp_samples": [{"labels": f'{{loadbalancer_id="{x}"}}', "value": 1} for x in expected],
        })
    _run(promtool, tmp_path, series, cases)


def test_amphorae_capacity_and_availability_queries(promtool: str, tmp_path: Path) -> None:
    """Spares and orphans, certificate horizons, quota and connection-limit ratios (unlimited
    left out), and the per-project budget. Metrics other branches add (quotas) are synthesized
    here, so the arithmetic is checked whatever the exporter exports yet."""
    day = 86400
    series: list[dict[str, str]] = []
    # lb1 exists; a1 serves it, a2 serves a load balancer that is gone, a3 is a spare.
    series += _series("octavia_loadbalancer_info", {"cloud": "prod", "loadbalancer_id": "lb1",
                      "project_id": "p1", "name": "web"}, "1x10", 2)
    amphorae = {"a1": ("lb1", "ALLOCATED", 3 * day), "a2": ("lb-gone", "ALLOCATED", 20 * day),
                "a3": ("", "READY", 60 * day), "a4": ("lb1", "ALLOCATED", 0)}
    for amp, (lb, status, expires_in) in amphorae.items():
        labels = {"cloud": "prod", "amphora_id": amp, "loadbalancer_id": lb,
                  "project_id": "p1" if lb else ""}
        series += _series("octavia_amphora_status", {**labels, "status": status}, "1x10", 2)
        series += _series("octavia_amphora_info", {**labels, "compute_id": f"vm-{amp}",
                          "role": "STANDALONE", "image_id": "img1", "cached_zone": "az1"},
                          "1x10", 2)
        # promtool's clock: time() is 360 at 6m. a4's expiry is unknown (0).
        expiry = 360 + expires_in if expires_in else 0
        series += _series("octavia_amphora_cert_expiration_timestamp_seconds", labels,
                          f"{expiry}x10", 2)
    # Quotas: p1 at 9 of 10 load balancers, listeners unlimited; p2 at 4 of 4 pools.
    for project, resource, usage, limit in (("p1", "loadbalancer", 9, 10),
                                            ("p1", "listener", 5, -1), ("p2", "pool", 4, 4)):
        labels = {"cloud": "prod", "project_id": project, "resource": resource}
        series += _series("octavia_quota_usage", labels, f"{usage}x10", 2)
        series += _series("octavia_quota_limit", labels, f"{limit}x10", 2)
    # Only p1's name is known.
    series += _series("octavia_project_info", {"cloud": "prod", "project_id": "p1",
                      "project_name": "shop"}, "1x10", 2)
    # Listeners: l1 limited to 100 with 95 open, l2 unlimited (no limit series).
    for listener, active in (("l1", 95), ("l2", 500)):
        labels = {"cloud": "prod", "listener_id": listener, "loadbalancer_id": "lb1",
                  "project_id": "p1"}
        series += _series("octavia_listener_info", {**labels, "name": listener,
                          "protocol": "HTTP", "protocol_port": "80"}, "1x10", 2)
        series += _series("octavia_listener_stats_active_connections", labels, f"{active}x10", 2)
    series += _series("octavia_listener_connection_limit", {
        "cloud": "prod", "listener_id": "l1", "loadbalancer_id": "lb1", "project_id": "p1"},
        "100x10", 2)
    # Recorded SLI series, given directly (no load-balancer status series here, so the rules
    # write none of their own): objective 0.5 and ratios 0.75 / 0.25 keep the arithmetic exact.
    series.append({"series": 'cloud:octavia_loadbalancer_availability:objective{cloud="prod"}',
                   "values": "0.5x10"})
    for project, ratio in (("p1", 0.75), ("p2", 0.25)):
        series.append({"series": "cloud_project:octavia_loadbalancer_availability:ratio30d"
                                 f'{{cloud="prod",project_id="{project}"}}',
                       "values": f"{ratio}x10"})

    amp_board, cap_board = "octavia-amphorae.json", "octavia-capacity.json"
    cases: list[dict[str, Any]] = [
        {
            "expr": _expr(amp_board, "Amphorae without a load balancer"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": '{cloud="prod",amphora_id="a2",loadbalancer_id="lb-gone",'
                           'status="ALLOCATED",compute_id="vm-a2",image_id="img1",'
                           'cached_zone="az1"}', "value": 1},
                {"labels": '{cloud="prod",amphora_id="a3",status="READY",compute_id="vm-a3",'
                           'image_id="img1",cached_zone="az1"}', "value": 1},
            ],
        },
        *[{
            "expr": _expr(amp_board, "Certificates expiring", ref),
            "eval_time": "6m",
            "exp_samples": [{"labels": "{}", "value": count}],
        } for ref, count in (("A", 1), ("B", 2), ("C", 3))],
        {
            "expr": _expr(cap_board, "Quota usage and limits", "C"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": '{cloud="prod",project_id="p1",project_name="shop",'
                           'resource="loadbalancer"}', "value": 0.9},
                {"labels": '{cloud="prod",project_id="p2",resource="pool"}', "value": 1},
            ],
        },
        {
            "expr": _expr(cap_board, "Listeners closest to their connection limit"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": '{cloud="prod",listener_id="l1",loadbalancer_id="lb1",name="l1",'
                           'protocol="HTTP",protocol_port="80"}', "value": 0.95},
            ],
        },
        {
            # 1 - (1 - 0.75) / (1 - 0.5) and 1 - (1 - 0.25) / (1 - 0.5): half the budget
            # left, and half of it overspent.
            "expr": _expr("octavia-availability.json", "Availability per project", "D"),
            "eval_time": "6m",
            "exp_samples": [
                {"labels": '{cloud="prod",project_id="p1"}', "value": 0.5},
                {"labels": '{cloud="prod",project_id="p2"}', "value": -0.5},
            ],
        },
    ]
    _run(promtool, tmp_path, series, cases)

DATAPLANE = "octavia-dataplane.json"
# The target labels the exporter's discovery gives Octavia's PROMETHEUS listener series.
AMPHORA_TARGET = {"cloud": "prod", "project_id": "p1", "loadbalancer_id": "lb1",
                  "job": "octavia-amphora", "instance": "192.0.2.10:9100"}


def _amphora(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in {**AMPHORA_TARGET, **labels}.items())
    return {"series": f"{name}{{{body}}}", "values": values}


def test_dataplane_joins_name_listeners_pools_and_members(promtool: str, tmp_path: Path) -> None:
    lb = {"cloud": "prod", "loadbalancer_id": "lb1", "project_id": "p1"}
    series = [
        *_series("octavia_listener_info", {**lb, "listener_id": "l1", "name": "web",
                                           "protocol": "HTTP", "protocol_port": "80",
                                           "default_pool_id": "pool1"}, "1x10", 2),
        *_series("octavia_pool_info", {**lb, "pool_id": "pool1", "name": "web-pool",
                                       "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
                 "1x10", 2),
        *_series("octavia_member_info", {**lb, "member_id": "m1", "pool_id": "pool1",
                                         "name": "web-1", "address": "10.0.0.11",
                                         "protocol_port": "80"}, "1x10", 2),
        *_series("octavia_member_info", {**lb, "member_id": "m2", "pool_id": "pool1",
                                         "name": "web-2", "address": "10.0.0.12",
                                         "protocol_port": "80"}, "1x10", 2),
        _amphora("octavia_member_status", {"pool": "pool1:l1", "member": "m1"}, "0x10"),
        _amphora("octavia_member_status", {"pool": "pool1:l1", "member": "m2"}, "1x10"),
        # 100 answers per second, 20 of them 5xx.
        _amphora("octavia_listener_http_responses_total", {"listener": "l1", "code": "5xx"},
                 "0+1200x10"),
        _amphora("octavia_listener_http_responses_total", {"listener": "l1", "code": "2xx"},
                 "0+4800x10"),
        _amphora("octavia_pool_queue_time_average_seconds", {"pool": "pool1:l1"}, "1.5x10"),
    ]
    cases = [
        {
            "expr": _expr(DATAPLANE, "Members DOWN in HAProxy"),
            "eval_time": "5m",
            "exp_samples": [{
                "labels": '{cloud="prod",loadbalancer_id="lb1",pool="pool1:l1",member="m1",'
                          'member_id="m1",name="web-1",address="10.0.0.11",protocol_port="80"}',
                "value": 0}],
        },
        {
            "expr": _expr(DATAPLANE, "HTTP 5xx share per listener"),
            "eval_time": "5m",
            "exp_samples": [{
                "labels": '{cloud="prod",loadbalancer_id="lb1",listener="l1",listener_id="l1",'
                          'name="web",protocol="HTTP",protocol_port="80"}',
                "value": 0.2}],
        },
        {
            "expr": _expr(DATAPLANE, "Queue time per pool"),
            "eval_time": "5m",
            "exp_samples": [{
                "labels": '{cloud="prod",loadbalancer_id="lb1",pool="pool1:l1",pool_id="pool1",'
                          'name="web-pool"}',
                "value": 1.5}],
        },
    ]
    _run(promtool, tmp_path, series, cases)
