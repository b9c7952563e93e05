"""Evaluate the trickiest dashboard queries with promtool against synthetic series.

The expressions are read from the committed dashboards (variables substituted), so this tests
what ships. Two replicas (exp-a, exp-b) and state-set zeros are part of the data on purpose.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.rules import promql_inventory

RULES = promql_inventory.ALERTS_DIR / "octavia-recording.rules.yml"


def _expr(board: str, title: str, ref: str = "A") -> str:
    data = json.loads((promql_inventory.DASHBOARDS_DIR / board).read_text(encoding="utf-8"))
    for panel in promql_inventory._panels(data["panels"]):
        if panel["title"] == title:
            for tgt in panel["targets"]:
                if tgt["refId"] == ref:
                    return promql_inventory.substitute(tgt["expr"])
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
    series += _series("octavia_loadbalancer_bytes_in_total", lb1, "0+60000x10", 2)
    series += _series("octavia_loadbalancer_bytes_out_total", lb1, "0+180000x10", 2)
    series += _series("octavia_loadbalancer_bytes_in_total", lb2, "0+6000x10", 2)
    series += _series("octavia_loadbalancer_bytes_out_total", lb2, "0x10", 2)

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
