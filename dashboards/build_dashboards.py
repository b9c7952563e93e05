#!/usr/bin/env python3
"""Build the Grafana dashboards in dashboards/*.json.

The JSON files are committed and importable as they are; this script is how they are made, so
that every panel gets the same data source, unit, description and query conventions.
tests/rules/test_dashboards_lint.py fails when a committed file differs from the output.

    python dashboards/build_dashboards.py           # rewrite dashboards/*.json
    python dashboards/build_dashboards.py --check   # exit 1 if a committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DASHBOARDS_DIR = Path(__file__).resolve().parent
DS = {"type": "prometheus", "uid": "${datasource}"}
RUNBOOKS = "https://github.com/octavia-exporter/octavia-exporter/blob/main/docs/dashboards.md"

Panel = dict[str, Any]

# Numeric codes for state timelines: higher is worse, so `max` across two replicas that
# disagree shows the worse state. Anything the exporter exports that is not listed (an unknown
# status string) becomes UNKNOWN.
OPERATING_CODES = {
    "ONLINE": 0, "NO_MONITOR": 1, "DRAINING": 2, "OFFLINE": 3, "DEGRADED": 4, "ERROR": 5,
}
UNKNOWN_CODE = 9
STATE_COLORS = {
    "ONLINE": "green", "NO_MONITOR": "blue", "DRAINING": "purple", "OFFLINE": "text",
    "DEGRADED": "orange", "ERROR": "red", "UNKNOWN": "yellow",
}


# --------------------------------------------------------------------------------------------
# Building blocks


class Layout:
    """Hands out panel ids and grid positions row by row (Grafana's grid is 24 wide)."""

    def __init__(self) -> None:
        self.next_id = 1
        self.y = 0
        self.x = 0
        self.row_height = 0

    def place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.newline()
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos

    def newline(self) -> None:
        self.y += self.row_height
        self.x = 0
        self.row_height = 0

    def take_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


def target(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "datasource": DS,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend or "__auto",
        "range": not instant,
        "instant": instant,
        "editorMode": "code",
    }
    if instant:
        out["format"] = "table"
    return out


def row(layout: Layout, title: str) -> Panel:
    layout.newline()
    panel = {
        "type": "row",
        "id": layout.take_id(),
        "title": title,
        "collapsed": False,
        "panels": [],
        "gridPos": {"x": 0, "y": layout.y, "w": 24, "h": 1},
    }
    layout.y += 1
    return panel


def panel(
    layout: Layout,
    kind: str,
    title: str,
    description: str,
    unit: str,
    targets: list[dict[str, Any]],
    w: int = 12,
    h: int = 8,
    options: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    transformations: list[dict[str, Any]] | None = None,
) -> Panel:
    field_defaults: dict[str, Any] = {"unit": unit}
    field_defaults.update(defaults or {})
    out: Panel = {
        "type": kind,
        "id": layout.take_id(),
        "title": title,
        "description": description,
        "datasource": DS,
        "gridPos": layout.place(w, h),
        "targets": targets,
        "fieldConfig": {"defaults": field_defaults, "overrides": overrides or []},
        "options": options or {},
    }
    if transformations:
        out["transformations"] = transformations
    return out


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {
        "mode": "absolute",
        "steps": [{"value": value, "color": color} for value, color in steps],
    }


def table_transform(
    hide: list[str], rename: dict[str, str], ordered: bool = False
) -> list[dict[str, Any]]:
    """Hide columns and rename them; with `ordered`, columns come in the order of `rename`
    (Grafana otherwise sorts label columns by name)."""
    excluded = {name: True for name in ["Time", "__name__", "instance", "job", *hide]}
    options: dict[str, Any] = {"excludeByName": excluded, "renameByName": rename}
    if ordered:
        options["indexByName"] = {name: i for i, name in enumerate(rename)}
    return [{"id": "organize", "options": options}]


def status_mappings() -> list[dict[str, Any]]:
    """Value mappings from the state codes of state_code_expr to names and colours."""
    options = {
        str(code): {"text": name, "color": STATE_COLORS[name], "index": i}
        for i, (name, code) in enumerate(OPERATING_CODES.items())
    }
    options[str(UNKNOWN_CODE)] = {
        "text": "UNKNOWN", "color": STATE_COLORS["UNKNOWN"], "index": len(options),
    }
    return [{"type": "value", "options": options}]


def state_code_expr(metric: str, matchers: str, by: str) -> str:
    """One series per object whose value is the code of its current operating status.

    Works in both status-series modes (`== 1`) and picks the worse state if two replicas
    disagree (`max`).
    """
    parts = [
        f'(({metric}{{{matchers},status="{state}"}} == 1) * {code})'
        for state, code in OPERATING_CODES.items()
    ]
    known = "|".join(OPERATING_CODES)
    parts.append(f'(({metric}{{{matchers},status!~"{known}"}} == 1) * {UNKNOWN_CODE})')
    body = "\n  or ".join(parts)
    return f"max by ({by}) (\n  {body}\n)"


def info_join(kind: str, matchers: str, labels: str, on: str | None = None) -> str:
    """`* on (...) group_left (labels) topk by (...) (1, octavia_<kind>_info{...})`.

    topk keeps the join one-to-one when two replicas export the same info series.
    """
    key = on or f"cloud, {kind}_id"
    return (
        f"* on ({key}) group_left ({labels})\n"
        f"topk by ({key}) (1, octavia_{kind}_info{{{matchers}}})"
    )


def floating_ip_join(one_per_lb: str, include: str, matchers: str,
                     fip_status: bool = False) -> str:
    """Left join of floating IPs onto `one_per_lb` (at most one series per cloud and load
    balancer): one series per floating IP of each of its load balancers, labelled
    floating_ip_address (and, with `fip_status`, the floating IP's `status`), with the labels
    `include` copied from `one_per_lb`. A load balancer without a floating IP keeps one
    series without floating_ip_address (the `or` fallback), so it is never dropped.

    `one_per_lb` is the "one" side of group_right: it must be unique per (cloud,
    loadbalancer_id), or the query fails. topk keeps one series per address when two replicas
    disagree about a floating IP's status for a moment.
    """
    key = "cloud, loadbalancer_id, floating_ip_address"
    series = f"octavia_loadbalancer_floating_ip_info{{{matchers}}}"
    if fip_status:
        fip = f"topk by ({key}) (1, max by ({key}, status) ({series}))"
    else:
        fip = f"max by ({key}) ({series})"
    return (
        f"(\n{one_per_lb}\n)\n"
        f"* on (cloud, loadbalancer_id) group_right ({include})\n"
        f"(\n"
        f"    {fip}\n"
        f"  or on (cloud, loadbalancer_id)\n"
        f"    max by (cloud, loadbalancer_id) (octavia_loadbalancer_info{{{matchers}}})\n"
        f")"
    )


def datasource_var() -> dict[str, Any]:
    return {
        "type": "datasource",
        "name": "datasource",
        "label": "Data source",
        "query": "prometheus",
        "regex": "",
        "hide": 0,
        "current": {},
        "options": [],
        "refresh": 1,
    }


def query_var(
    name: str,
    label: str,
    query: str,
    multi: bool = True,
    include_all: bool = True,
) -> dict[str, Any]:
    var: dict[str, Any] = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": f"{name}-variable-query"},
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": include_all,
        "hide": 0,
        "regex": "",
        "current": {},
        "options": [],
    }
    if include_all:
        var["allValue"] = ".*"
    return var


def textbox_var(name: str, label: str, description: str, default: str = ".*") -> dict[str, Any]:
    return {
        "type": "textbox",
        "name": name,
        "label": label,
        "description": description,
        "query": default,
        "current": {"text": default, "value": default},
        "options": [{"selected": True, "text": default, "value": default}],
        "hide": 0,
    }


def dashboard(
    uid: str, title: str, description: str, variables: list[dict[str, Any]], panels: list[Panel]
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["octavia", "openstack", "octavia-exporter"],
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "refresh": "1m",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["octavia-exporter"],
                "asDropdown": False,
                "includeVars": True,
                "keepTime": True,
                "title": "Octavia dashboards",
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "templating": {"list": variables},
        "panels": panels,
    }


# --------------------------------------------------------------------------------------------
# Fleet dashboard

F = 'cloud=~"$cloud"'
FP = 'cloud=~"$cloud",project_id=~"$project"'


def fleet() -> dict[str, Any]:
    lay = Layout()
    panels: list[Panel] = []
    bar_options = {
        "orientation": "horizontal",
        "displayMode": "basic",
        "showUnfilled": True,
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "valueMode": "color",
        "namePlacement": "left",
        "sizing": "auto",
    }
    ts_options = {
        "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    table_options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}

    # -- exporter health ---------------------------------------------------------------------
    panels.append(row(lay, "Exporter health"))
    panels.append(panel(
        lay, "stat", "Octavia API reachable",
        "Per cloud: 1 (UP) when the exporter's last poll cycle listed everything successfully "
        "(octavia_up), as seen by at least one exporter replica. DOWN means the exported fleet "
        "state is frozen.",
        "none",
        [target(f"max by (cloud) (octavia_up{{{F}}})", "{{cloud}}")],
        w=6, h=5,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "colorMode": "background", "textMode": "value_and_name", "graphMode": "none"},
        defaults={"mappings": [{"type": "value", "options": {
            "0": {"text": "DOWN", "color": "red", "index": 0},
            "1": {"text": "UP", "color": "green", "index": 1}}}],
            "thresholds": thresholds((None, "red"), (1, "green"))},
    ))
    panels.append(panel(
        lay, "stat", "Last successful poll",
        "Per cloud: how long ago the newest successful poll cycle ended "
        "(time() - octavia_last_poll_success_timestamp_seconds). Polls run every --interval "
        "(30 s by default, octavia_poll_interval_seconds); the OctaviaDataStale alert fires "
        "above ten intervals, and never below 5 minutes.",
        "s",
        [target(f"time() - max by (cloud) (octavia_last_poll_success_timestamp_seconds{{{F}}})",
                "{{cloud}}")],
        w=6, h=5,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "colorMode": "background", "textMode": "value_and_name", "graphMode": "none"},
        defaults={"thresholds": thresholds((None, "green"), (120, "yellow"), (300, "red"))},
    ))
    panels.append(panel(
        lay, "timeseries", "Poll cycle duration",
        "Wall time of the last poll cycle per cloud and exporter replica "
        "(octavia_poll_duration_seconds). A cycle longer than --interval delays every update.",
        "s",
        [target(f"octavia_poll_duration_seconds{{{F}}}", "{{cloud}} {{instance}}")],
        w=12, h=5, options=ts_options,
    ))
    panels.append(panel(
        lay, "timeseries", "Octavia API errors by code",
        "Requests from the exporter to the Octavia and Keystone APIs that did not answer 2xx, "
        "per second, by cloud and HTTP code (or timeout / connection_error), summed over "
        "replicas (each replica really makes its own requests).",
        "reqps",
        [target(f'sum by (cloud, code) (rate(octavia_api_requests_total{{{F},code!~"2.."}}'
                f"[$__rate_interval]))", "{{cloud}} {{code}}")],
        w=12, h=7, options=ts_options,
    ))
    panels.append(panel(
        lay, "timeseries", "Octavia API latency (p95) by endpoint",
        "95th percentile of the exporter's API request latency per endpoint template "
        "(octavia_api_request_duration_seconds). Slow list or status-tree calls make poll "
        "cycles long.",
        "s",
        [target("histogram_quantile(0.95, sum by (cloud, endpoint, le) ("
                f"rate(octavia_api_request_duration_seconds_bucket{{{F}}}[$__rate_interval])))",
                "{{cloud}} {{endpoint}}")],
        w=12, h=7, options=ts_options,
    ))

    # -- fleet status counts (recording rules) -------------------------------------------------
    panels.append(row(lay, "Fleet by status"))
    kinds = [
        ("loadbalancer", "Load balancers"),
        ("listener", "Listeners"),
        ("pool", "Pools"),
        ("member", "Members"),
    ]
    for kind, label in kinds:
        panels.append(panel(
            lay, "bargauge", f"{label} by provisioning status",
            f"Number of {label.lower()} in each provisioning status (ACTIVE, PENDING_*, ERROR, "
            f"...) for the selected clouds and projects, from the recording rule "
            f"cloud_project_status:octavia_{kind}_provisioning_status:sum.",
            "short",
            [target(f"sum by (status) (cloud_project_status:octavia_{kind}_provisioning_status:sum"
                    f"{{{FP}}})", "{{status}}")],
            w=6, h=6, options=bar_options,
            defaults={"thresholds": thresholds((None, "blue"))},
        ))
    for kind, label in kinds:
        panels.append(panel(
            lay, "bargauge", f"{label} by operating status",
            f"Number of {label.lower()} in each operating status (ONLINE, DEGRADED, ERROR, "
            f"OFFLINE, NO_MONITOR, DRAINING) for the selected clouds and projects, from the "
            f"recording rule cloud_project_status:octavia_{kind}_operating_status:sum.",
            "short",
            [target(f"sum by (status) (cloud_project_status:octavia_{kind}_operating_status:sum"
                    f"{{{FP}}})", "{{status}}")],
            w=6, h=6, options=bar_options,
            defaults={"thresholds": thresholds((None, "blue"))},
        ))
    panels.append(panel(
        lay, "bargauge", "Amphorae by status",
        "Number of amphorae in each status (ALLOCATED, READY, BOOTING, PENDING_*, ERROR, "
        "FAILOVER_STOPPED, ...), from cloud_project_status:octavia_amphora_status:sum. Empty "
        "when the exporter's account may not list amphorae (admin only). Spare amphorae have "
        "no project.",
        "short",
        [target(f"sum by (status) (cloud_project_status:octavia_amphora_status:sum{{{FP}}})",
                "{{status}}")],
        w=6, h=6, options=bar_options,
        defaults={"thresholds": thresholds((None, "blue"))},
    ))
    panels.append(panel(
        lay, "bargauge", "Health monitors by operating status",
        "Number of health monitors in each operating status, from "
        "cloud_project_status:octavia_healthmonitor_operating_status:sum.",
        "short",
        [target("sum by (status) (cloud_project_status:octavia_healthmonitor_operating_status:sum"
                f"{{{FP}}})", "{{status}}")],
        w=6, h=6, options=bar_options,
        defaults={"thresholds": thresholds((None, "blue"))},
    ))
    panels.append(panel(
        lay, "timeseries", "Load balancers not ONLINE over time",
        "Load balancers per operating status other than ONLINE, over time: when did the "
        "DEGRADED / ERROR / OFFLINE count change?",
        "short",
        [target("sum by (status) (cloud_project_status:octavia_loadbalancer_operating_status:sum"
                f'{{{FP},status!="ONLINE"}})', "{{status}}")],
        w=12, h=6, options=ts_options,
    ))
    panels.append(panel(
        lay, "timeseries", "Status transitions",
        "Status changes the exporter saw between two poll cycles, per resource kind, field and "
        "new status (octavia_status_transitions_total), per interval. Replicas see the same "
        "changes, so they are counted once.",
        "short",
        [target("sum by (resource, field, to_status) (max by (cloud, resource, field, "
                "from_status, to_status) (increase(octavia_status_transitions_total"
                f"{{{F}}}[$__rate_interval])))", "{{resource}} {{field}} → {{to_status}}")],
        w=12, h=7, options=ts_options,
    ))
    # Load balancers of the clouds whose floating IP collection is on: elsewhere "without a
    # floating IP" would only mean "not known".
    lbs = (f"(\n  max by (cloud, loadbalancer_id) (octavia_loadbalancer_info{{{FP}}})\n"
           "  and on (cloud)\n  max by (cloud) (octavia_collector_enabled"
           f'{{{F},collector="floating_ips"}}) == 1\n)')
    fips = f"octavia_loadbalancer_floating_ip_info{{{F}}}"
    panels.append(panel(
        lay, "stat", "Load balancers with and without a floating IP",
        "Load balancers with at least one Neutron floating IP on their VIP port "
        "(octavia_loadbalancer_floating_ip_info), and those with none, for the selected clouds "
        "and projects. Only clouds where the exporter collects floating IPs "
        '(octavia_collector_enabled{collector="floating_ips"} == 1) are counted; empty when '
        "none does.",
        "short",
        [target(f"sum({lbs}\nand on (cloud, loadbalancer_id) {fips})\nor 0 * sum({lbs})",
                "with floating IP", ref="A"),
         target(f"sum({lbs}\nunless on (cloud, loadbalancer_id) {fips})\nor 0 * sum({lbs})",
                "without floating IP", ref="B")],
        w=6, h=7,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "colorMode": "none", "textMode": "value_and_name", "graphMode": "none",
                 "orientation": "horizontal"},
    ))
    panels.append(panel(
        lay, "timeseries", "Floating IP changes",
        "Floating IPs attached to a load balancer, detached from one, or moved between two, "
        "as the exporter saw them between poll cycles (octavia_floating_ip_changes_total), per "
        "interval, for the selected clouds (not per project). Replicas see the same changes, "
        "so they are counted once.",
        "short",
        [target("sum by (change) (max by (cloud, change) (increase("
                f"octavia_floating_ip_changes_total{{{F}}}[$__rate_interval])))", "{{change}}")],
        w=6, h=7,
        options={"legend": {"displayMode": "list", "placement": "bottom"},
                 "tooltip": {"mode": "multi", "sort": "desc"}},
    ))

    # -- what is broken right now --------------------------------------------------------------
    panels.append(row(lay, "Not healthy now"))
    lb_join = info_join("loadbalancer", F, "name, vip_address")
    lb_columns = {"cloud": "Cloud", "project_id": "Project", "loadbalancer_id": "Load balancer ID",
                  "name": "Name", "vip_address": "VIP", "floating_ip_address": "Floating IP"}
    fip_note = (
        " A load balancer with several floating IPs has one row per address; one without "
        "has an empty Floating IP."
    )
    for field, healthy, title, what in (
        ("provisioning", "ACTIVE", "Load balancers not ACTIVE",
         "Every load balancer whose provisioning status is not ACTIVE right now (ERROR, "
         "PENDING_CREATE/UPDATE/DELETE), with its name, project, VIP and floating IPs."),
        ("operating", "ONLINE", "Load balancers not ONLINE",
         "Every load balancer whose operating status is not ONLINE right now (ERROR, DEGRADED, "
         "OFFLINE when administratively down or still being created, ...), with name, project, "
         "VIP and floating IPs."),
    ):
        # topk: one status per load balancer even while two replicas disagree, as the floating
        # IP join needs.
        not_healthy = (
            "topk by (cloud, loadbalancer_id) (1,\n"
            "  max by (cloud, project_id, loadbalancer_id, status) ("
            f'octavia_loadbalancer_{field}_status{{{FP},status!="{healthy}"}} == 1)\n'
            f")\n{lb_join}"
        )
        panels.append(panel(
            lay, "table", title, what + fip_note, "none",
            [target(floating_ip_join(not_healthy, "project_id, status, name, vip_address", F),
                    instant=True)],
            w=12, h=8, options=table_options,
            defaults={"custom": {"filterable": True}},  # find the address a user reports
            transformations=table_transform(["Value"], {
                **lb_columns, "status": f"{field.capitalize()} status"}, ordered=True),
        ))
    pool_join = info_join("pool", F, "name")
    panels.append(panel(
        lay, "table", "Pools with members down",
        "Pools that have at least one member in operating status ERROR, with the number of "
        "members down and the pool's total number of members (recording rules "
        "cloud_project_pool_status:octavia_member_operating_status:sum and "
        "cloud_project_pool:octavia_pool_members:max). Down == Members means the pool "
        "cannot serve.",
        "short",
        [
            target("sum without (status) (cloud_project_pool_status:"
                   f'octavia_member_operating_status:sum{{{FP},status="ERROR"}})\n'
                   f"{pool_join}", ref="A", instant=True),
            target(f"cloud_project_pool:octavia_pool_members:max{{{FP}}}\n{pool_join}\n"
                   "and on (cloud, pool_id) cloud_project_pool_status:"
                   f'octavia_member_operating_status:sum{{{FP},status="ERROR"}}',
                   ref="B", instant=True),
        ],
        w=12, h=8, options=table_options,
        transformations=[{"id": "merge", "options": {}}, *table_transform([], {
            "cloud": "Cloud", "project_id": "Project", "loadbalancer_id": "Load balancer ID",
            "pool_id": "Pool ID", "name": "Pool", "Value #A": "Members down",
            "Value #B": "Members"})],
    ))
    panels.append(panel(
        lay, "table", "Members down",
        "Every member in operating status ERROR (failing its health checks) right now, with "
        "its address and port, pool and load balancer.",
        "none",
        [target("max by (cloud, project_id, loadbalancer_id, pool_id, member_id) ("
                f'octavia_member_operating_status{{{FP},status="ERROR"}} == 1)\n'
                + info_join("member", F, "name, address, protocol_port"), instant=True)],
        w=12, h=8, options=table_options,
        transformations=table_transform(["Value"], {
            "cloud": "Cloud", "project_id": "Project", "loadbalancer_id": "Load balancer ID",
            "pool_id": "Pool ID", "member_id": "Member ID", "name": "Name",
            "address": "Address", "protocol_port": "Port"}),
    ))
    panels.append(panel(
        lay, "table", "Amphorae not ALLOCATED or READY",
        "Amphorae in any status other than ALLOCATED (serving a load balancer), READY (spare) "
        "or DELETED: BOOTING, PENDING_*, ERROR, FAILOVER_STOPPED. Admin-only data.",
        "none",
        [target("max by (cloud, project_id, loadbalancer_id, amphora_id, status) ("
                f'octavia_amphora_status{{{FP},status!~"ALLOCATED|READY|DELETED"}} == 1)\n'
                + info_join("amphora", F, "role, compute_id, lb_network_ip"), instant=True)],
        w=24, h=7, options=table_options,
        transformations=table_transform(["Value"], {
            "cloud": "Cloud", "project_id": "Project", "loadbalancer_id": "Load balancer ID",
            "amphora_id": "Amphora ID", "status": "Status", "role": "Role",
            "compute_id": "Compute ID", "lb_network_ip": "lb-mgmt IP"}),
    ))

    # -- traffic ---------------------------------------------------------------------------------
    panels.append(row(lay, "Traffic: top load balancers"))
    lb_name_join = info_join("loadbalancer", F, "name")
    by_lb = "max by (cloud, project_id, loadbalancer_id)"
    lbm = f'{FP},loadbalancer_id!=""'
    panels.append(panel(
        lay, "timeseries", "Top 10 load balancers by traffic",
        "The ten load balancers with the most bytes in + out per second (Octavia's cumulative "
        "bytes_in/bytes_out counters, rated). topk is evaluated at every step, so more than "
        "ten may appear over a long range.",
        "Bps",
        [target(f"topk(10,\n  {by_lb} (rate(octavia_loadbalancer_bytes_in_total{{{lbm}}}"
                f"[$__rate_interval]))\n  + on (cloud, project_id, loadbalancer_id)\n  {by_lb} "
                f"(rate(octavia_loadbalancer_bytes_out_total{{{lbm}}}[$__rate_interval]))\n)\n"
                f"{lb_name_join}", "{{name}} ({{loadbalancer_id}})")],
        w=12, h=8, options=ts_options,
    ))
    panels.append(panel(
        lay, "timeseries", "Top 10 load balancers by new connections",
        "The ten load balancers accepting the most new connections per second "
        "(octavia_loadbalancer_connections_total, rated).",
        "cps",
        [target(f"topk(10, {by_lb} (rate(octavia_loadbalancer_connections_total{{{lbm}}}"
                f"[$__rate_interval])))\n{lb_name_join}", "{{name}} ({{loadbalancer_id}})")],
        w=12, h=8, options=ts_options,
    ))
    panels.append(panel(
        lay, "timeseries", "Top 10 load balancers by active connections",
        "The ten load balancers with the most open connections "
        "(octavia_loadbalancer_active_connections, a gauge).",
        "short",
        [target(f"topk(10, {by_lb} (octavia_loadbalancer_active_connections{{{lbm}}}))\n"
                f"{lb_name_join}", "{{name}} ({{loadbalancer_id}})")],
        w=12, h=8, options=ts_options,
    ))
    panels.append(panel(
        lay, "timeseries", "Top 10 load balancers by request errors",
        "The ten load balancers counting the most request errors per second "
        "(octavia_loadbalancer_request_errors_total, rated): requests HAProxy rejected or "
        "could not parse, not HTTP 5xx from members.",
        "reqps",
        [target(f"topk(10, {by_lb} (rate(octavia_loadbalancer_request_errors_total{{{lbm}}}"
                f"[$__rate_interval])) > 0)\n{lb_name_join}", "{{name}} ({{loadbalancer_id}})")],
        w=12, h=8, options=ts_options,
    ))

    variables = [
        datasource_var(),
        query_var("cloud", "Cloud", "label_values(octavia_up, cloud)"),
        query_var("project", "Project",
                  'label_values(octavia_loadbalancer_info{cloud=~"$cloud"}, project_id)'),
    ]
    return dashboard(
        "octavia-fleet", "Octavia / Fleet",
        "Fleet overview of OpenStack Octavia from octavia-exporter: exporter health, objects by "
        "status, what is not healthy now, and the busiest load balancers. See "
        f"{RUNBOOKS}.",
        variables, panels,
    )


# --------------------------------------------------------------------------------------------
# Load balancer dashboard

L = 'cloud=~"$cloud",loadbalancer_id=~"$loadbalancer"'


def loadbalancer() -> dict[str, Any]:
    lay = Layout()
    panels: list[Panel] = []
    ts_options = {
        "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    table_options = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    stat_name = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "colorMode": "background", "textMode": "name", "graphMode": "none"}

    panels.append(row(lay, "Load balancer"))
    info_labels = ("project_id, name, vip_address, vip_port_id, vip_network_id, vip_subnet_id, "
                   "provider, flavor_id, availability_zone")
    panels.append(panel(
        lay, "table", "Load balancer",
        "The selected load balancer's metadata from octavia_loadbalancer_info: name, project, "
        "VIP address, port, network and subnet, provider, flavor and availability zone; and "
        "the Neutron floating IPs on its VIP port with their status "
        "(octavia_loadbalancer_floating_ip_info): one row per floating IP, or one row with an "
        "empty Floating IP when it has none.",
        "none",
        [target(floating_ip_join(
            f"topk by (cloud, loadbalancer_id) (1, octavia_loadbalancer_info{{{L}}})",
            info_labels, L, fip_status=True), instant=True)],
        w=24, h=5, options=table_options,
        transformations=table_transform(["Value"], {
            "cloud": "Cloud", "project_id": "Project", "loadbalancer_id": "ID", "name": "Name",
            "vip_address": "VIP", "floating_ip_address": "Floating IP",
            "status": "Floating IP status", "vip_port_id": "VIP port",
            "vip_network_id": "VIP network", "vip_subnet_id": "VIP subnet",
            "provider": "Provider", "flavor_id": "Flavor", "availability_zone": "AZ"},
            ordered=True),
    ))
    status_colors = {"type": "value", "options": {
        "ACTIVE": {"color": "green", "index": 0}, "ONLINE": {"color": "green", "index": 1},
        "ERROR": {"color": "red", "index": 2}, "DEGRADED": {"color": "orange", "index": 3},
        "OFFLINE": {"color": "text", "index": 4}}}
    panels.append(panel(
        lay, "stat", "Provisioning status",
        "The load balancer's current provisioning status (ACTIVE, PENDING_*, ERROR).",
        "none",
        [target(f"max by (status) (octavia_loadbalancer_provisioning_status{{{L}}} == 1)",
                "{{status}}")],
        w=6, h=4, options=stat_name,
        defaults={"mappings": [status_colors], "color": {"mode": "thresholds"},
                  "thresholds": thresholds((None, "blue"))},
    ))
    panels.append(panel(
        lay, "stat", "Operating status",
        "The load balancer's current operating status (ONLINE, DEGRADED, ERROR, OFFLINE, ...).",
        "none",
        [target(f"max by (status) (octavia_loadbalancer_operating_status{{{L}}} == 1)",
                "{{status}}")],
        w=6, h=4, options=stat_name,
        defaults={"mappings": [status_colors], "color": {"mode": "thresholds"},
                  "thresholds": thresholds((None, "blue"))},
    ))
    panels.append(panel(
        lay, "stat", "Active connections",
        "Connections open on the load balancer now (octavia_loadbalancer_active_connections, "
        "summed over its listeners by Octavia).",
        "short",
        [target(f'max(octavia_loadbalancer_active_connections{{{L},loadbalancer_id!=""}})',
                "active")],
        w=6, h=4,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "colorMode": "none", "graphMode": "area", "textMode": "value"},
    ))
    panels.append(panel(
        lay, "stat", "Traffic in / out",
        "Bytes per second received and sent by the load balancer "
        "(octavia_loadbalancer_bytes_in_total / _bytes_out_total, rated).",
        "Bps",
        [target(f'max(rate(octavia_loadbalancer_bytes_in_total{{{L},loadbalancer_id!=""}}'
                "[$__rate_interval]))", "in", ref="A"),
         target(f'max(rate(octavia_loadbalancer_bytes_out_total{{{L},loadbalancer_id!=""}}'
                "[$__rate_interval]))", "out", ref="B")],
        w=6, h=4,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "colorMode": "none", "graphMode": "area", "textMode": "value_and_name"},
    ))

    panels.append(row(lay, "Listeners"))
    lst = f'{L},listener_id!=""'
    by_l = "max by (cloud, listener_id)"
    l_join = info_join("listener", L, "name, protocol, protocol_port")
    legend = "{{name}} {{protocol}}:{{protocol_port}}"
    panels.append(panel(
        lay, "timeseries", "Listener traffic",
        "Bytes per second in and out of each listener of the load balancer "
        "(octavia_listener_bytes_in_total / _bytes_out_total, rated). Out is drawn below zero.",
        "Bps",
        [target(f"{by_l} (rate(octavia_listener_bytes_in_total{{{lst}}}[$__rate_interval]))\n"
                f"{l_join}", f"{legend} in", ref="A"),
         target(f"{by_l} (rate(octavia_listener_bytes_out_total{{{lst}}}[$__rate_interval]))\n"
                f"{l_join}", f"{legend} out", ref="B")],
        w=12, h=8, options=ts_options,
        overrides=[{"matcher": {"id": "byFrameRefID", "options": "B"},
                    "properties": [{"id": "custom.transform", "value": "negative-Y"}]}],
    ))
    panels.append(panel(
        lay, "timeseries", "Listener new connections",
        "New connections per second accepted by each listener "
        "(octavia_listener_connections_total, rated).",
        "cps",
        [target(f"{by_l} (rate(octavia_listener_connections_total{{{lst}}}[$__rate_interval]))\n"
                f"{l_join}", legend)],
        w=12, h=8, options=ts_options,
    ))
    panels.append(panel(
        lay, "timeseries", "Listener active connections and limit",
        "Connections open on each listener (octavia_listener_active_connections) and, dashed, "
        "its connection limit where one is set (octavia_listener_connection_limit; absent for "
        "unlimited listeners). The OctaviaListenerNearConnectionLimit alert fires above 90%.",
        "short",
        [target(f"{by_l} (octavia_listener_active_connections{{{L}}})\n{l_join}", legend,
                ref="A"),
         target(f"{by_l} (octavia_listener_connection_limit{{{L}}})\n{l_join}",
                f"{legend} limit", ref="B")],
        w=12, h=8, options=ts_options,
        overrides=[{"matcher": {"id": "byFrameRefID", "options": "B"},
                    "properties": [{"id": "custom.lineStyle",
                                    "value": {"fill": "dash", "dash": [10, 10]}}]}],
    ))
    panels.append(panel(
        lay, "timeseries", "Listener request-error ratio",
        "Request errors per new connection for each listener (rate of "
        "octavia_listener_request_errors_total / rate of octavia_listener_connections_total). "
        "Request errors are requests HAProxy rejected or could not parse; with keep-alive "
        "several requests share a connection, so this is an indicator, not an exact "
        "percentage. The OctaviaListenerRequestErrorsHigh alert fires above 5%.",
        "percentunit",
        [target(f"{by_l} (rate(octavia_listener_request_errors_total{{{lst}}}"
                f"[$__rate_interval]))\n/\n{by_l} (rate(octavia_listener_connections_total"
                f"{{{lst}}}[$__rate_interval]) > 0)\n{l_join}", legend)],
        w=12, h=8, options=ts_options,
    ))
    panels.append(panel(
        lay, "state-timeline", "Listener operating status",
        "Operating status of each listener over time (ONLINE, DEGRADED, ERROR, OFFLINE, ...).",
        "none",
        [target(state_code_expr("octavia_listener_operating_status", L, "cloud, listener_id")
                + f"\n{l_join}", legend)],
        w=24, h=6,
        options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                 "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"}},
        defaults={"mappings": status_mappings(), "color": {"mode": "thresholds"},
                  "thresholds": thresholds((None, "text"))},
    ))

    panels.append(row(lay, "Pools and members"))
    panels.append(panel(
        lay, "state-timeline", "Pool operating status",
        "Operating status of each pool of the load balancer over time: DEGRADED when some "
        "members are in ERROR, ERROR when all are.",
        "none",
        [target(state_code_expr("octavia_pool_operating_status", L, "cloud, pool_id")
                + "\n" + info_join("pool", L, "name"), "{{name}} ({{pool_id}})")],
        w=24, h=6,
        options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                 "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"}},
        defaults={"mappings": status_mappings(), "color": {"mode": "thresholds"},
                  "thresholds": thresholds((None, "text"))},
    ))
    member_join = info_join("member", L, "name, address, protocol_port")
    panels.append(panel(
        lay, "state-timeline", "Member operating status",
        "Operating status of each member of each pool over time (ONLINE, ERROR when failing its "
        "health checks, OFFLINE when administratively down, NO_MONITOR without a health "
        "monitor, DRAINING).",
        "none",
        [target(state_code_expr("octavia_member_operating_status", L, "cloud, pool_id, member_id")
                + f"\n{member_join}", "{{address}}:{{protocol_port}} {{name}}")],
        w=24, h=10,
        options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8,
                 "legend": {"showLegend": True, "displayMode": "list", "placement": "bottom"}},
        defaults={"mappings": status_mappings(), "color": {"mode": "thresholds"},
                  "thresholds": thresholds((None, "text"))},
    ))
    # Weight, admin state and backup exist only with the exporter's --member-details (and for
    # members of pools no listener uses): separate queries merged onto the rows of A, so a
    # member without them keeps its row with empty cells (merge drops empty results).
    member_details = {"B": ("octavia_member_weight", "Weight"),
                      "C": ("octavia_member_admin_state_up", "Admin state"),
                      "D": ("octavia_member_backup", "Backup")}
    panels.append(panel(
        lay, "table", "Members",
        "Every member of the load balancer's pools now: pool, address, port, name and "
        "operating status; weight, admin state and backup when the exporter runs with "
        "--member-details (empty otherwise).",
        "none",
        [target("max by (cloud, pool_id, member_id, status) ("
                f"octavia_member_operating_status{{{L}}} == 1)\n{member_join}", instant=True),
         *[target(f"max by (cloud, pool_id, member_id) ({metric}{{{L}}})", ref=ref,
                  instant=True) for ref, (metric, _) in member_details.items()]],
        w=24, h=8, options=table_options,
        overrides=[
            {"matcher": {"id": "byName", "options": "Admin state"},
             "properties": [{"id": "mappings", "value": [{"type": "value", "options": {
                 "0": {"text": "down", "color": "red", "index": 0},
                 "1": {"text": "up", "color": "green", "index": 1}}}]}]},
            {"matcher": {"id": "byName", "options": "Backup"},
             "properties": [{"id": "mappings", "value": [{"type": "value", "options": {
                 "0": {"text": "no", "index": 0},
                 "1": {"text": "yes", "index": 1}}}]}]},
        ],
        transformations=[{"id": "merge", "options": {}}, *table_transform(
            ["Value", "Value #A", "cloud"], {
                "pool_id": "Pool ID", "member_id": "Member ID", "name": "Name",
                "address": "Address", "protocol_port": "Port", "status": "Operating status",
                **{f"Value #{ref}": title for ref, (_, title) in member_details.items()}})],
    ))

    panels.append(row(lay, "Amphorae"))
    panels.append(panel(
        lay, "table", "Amphorae",
        "The load balancer's amphorae now: status, role (MASTER/BACKUP/STANDALONE), compute "
        "instance, lb-mgmt IP, flavor and zone. Admin-only data; empty for other providers.",
        "none",
        [target(f"max by (cloud, amphora_id, status) (octavia_amphora_status{{{L}}} == 1)\n"
                + info_join("amphora", L,
                            "role, compute_id, lb_network_ip, compute_flavor, cached_zone"),
                instant=True)],
        w=14, h=6, options=table_options,
        transformations=table_transform(["Value", "cloud"], {
            "amphora_id": "Amphora ID", "status": "Status", "role": "Role",
            "compute_id": "Compute ID", "lb_network_ip": "lb-mgmt IP",
            "compute_flavor": "Flavor", "cached_zone": "Zone"}),
    ))
    panels.append(panel(
        lay, "bargauge", "Amphora certificate expiry",
        "Time left until each amphora's agent certificate expires "
        "(octavia_amphora_cert_expiration_timestamp_seconds - now). Housekeeping rotates at 14 "
        "days by default; yellow below 14 days, red below 3 days.",
        "s",
        [target("max by (cloud, amphora_id) (octavia_amphora_cert_expiration_timestamp_seconds"
                f"{{{L}}} > 0) - time()", "{{amphora_id}}")],
        w=10, h=6,
        options={"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "valueMode": "color", "namePlacement": "left", "sizing": "auto"},
        defaults={"min": 0, "thresholds": thresholds(
            (None, "red"), (3 * 86400, "yellow"), (14 * 86400, "green"))},
    ))

    variables = [
        datasource_var(),
        query_var("cloud", "Cloud", "label_values(octavia_loadbalancer_info, cloud)",
                  multi=False, include_all=False),
        query_var("project", "Project",
                  'label_values(octavia_loadbalancer_info{cloud=~"$cloud"}, project_id)',
                  multi=False, include_all=True),
        textbox_var("name", "Name (regex)",
                    "Narrows the load balancer list to names matching this regex."),
        textbox_var("floating_ip", "Floating IP (regex)",
                    "Narrows the load balancer list to those with a floating IP matching this "
                    "regex (anchored: 198.51.100.7, or 198.51.100.* for a range). Use it or "
                    "Name, not both."),
        # One selector over two metrics: a load balancer is listed through its info series
        # when the name matches and the floating IP regex matches "" (so `.*` keeps load
        # balancers without a floating IP), or through one of its floating IP series when the
        # address matches and the name regex matches "" (the floating IP series have no name).
        query_var("loadbalancer", "Load balancer",
                  'label_values({__name__=~"octavia_loadbalancer_info|'
                  'octavia_loadbalancer_floating_ip_info",cloud=~"$cloud",project_id=~"$project",'
                  'name=~"$name",floating_ip_address=~"$floating_ip"}, loadbalancer_id)',
                  multi=False, include_all=False),
    ]
    return dashboard(
        "octavia-loadbalancer", "Octavia / Load balancer",
        "One Octavia load balancer from octavia-exporter: status, listeners' traffic and "
        f"errors, pool and member health, amphorae. See {RUNBOOKS}.",
        variables, panels,
    )


# --------------------------------------------------------------------------------------------
# Shared options of the four dashboards below

TS_OPTIONS = {
    "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull", "max"]},
    "tooltip": {"mode": "multi", "sort": "desc"},
}
TABLE_OPTIONS = {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
BAR_OPTIONS = {
    "orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
    "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
    "valueMode": "color", "namePlacement": "left", "sizing": "auto",
}
STAT_OPTIONS = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "value", "textMode": "value_and_name", "graphMode": "none"}
DASHED = [{"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}]


def dashed(ref: str) -> dict[str, Any]:
    return {"matcher": {"id": "byFrameRefID", "options": ref}, "properties": DASHED}


def cloud_project_vars(project_metric: str = "octavia_loadbalancer_info") -> list[dict[str, Any]]:
    return [
        datasource_var(),
        query_var("cloud", "Cloud", "label_values(octavia_up, cloud)"),
        query_var("project", "Project",
                  f'label_values({project_metric}{{cloud=~"$cloud"}}, project_id)'),
    ]


# --------------------------------------------------------------------------------------------
# Amphorae dashboard


def amphorae() -> dict[str, Any]:
    lay = Layout()
    panels: list[Panel] = []
    amp = "cloud, amphora_id"
    status_now = f"max by ({amp}, status) (octavia_amphora_status{{{FP}}} == 1)"

    panels.append(row(lay, "Status"))
    for label, title, what in (
        ("role", "Amphorae by status and role",
         "MASTER and BACKUP amphorae serve ACTIVE_STANDBY load balancers, STANDALONE ones "
         "SINGLE load balancers; spares have no role."),
        ("cached_zone", "Amphorae by status and compute zone",
         "The compute availability zone each amphora was booted in (cached_zone): a zone "
         "with many amphorae in ERROR points at that zone's hypervisors or network."),
    ):
        panels.append(panel(
            lay, "bargauge", title,
            f"Number of amphorae per status and {label} now (octavia_amphora_status joined "
            f"with octavia_amphora_info). {what} Admin-only data.",
            "short",
            [target(f"sum by (status, {label}) (\n  {status_now}\n  "
                    + info_join("amphora", FP, label, on=amp) + "\n)",
                    f"{{{{{label}}}}} {{{{status}}}}", instant=True)],
            w=12, h=8, options=BAR_OPTIONS,
            defaults={"thresholds": thresholds((None, "blue"))},
        ))
    panels.append(panel(
        lay, "timeseries", "Amphorae in transitional or failed states",
        "Amphorae over time in the states a failover goes through or ends in: BOOTING and "
        "PENDING_CREATE (a replacement is being built), PENDING_DELETE (the old one is "
        "removed), ERROR, FAILOVER_STOPPED (Octavia gave up: too many failovers at once). "
        "From cloud_project_status:octavia_amphora_status:sum.",
        "short",
        [target("sum by (status) (cloud_project_status:octavia_amphora_status:sum"
                f'{{{FP},status!~"ALLOCATED|READY|DELETED"}})', "{{status}}")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Failover activity",
        "Status changes of amphorae (resource amphora) and load balancers entering "
        "PENDING_UPDATE (what a failover sets), as the exporter saw them between poll cycles "
        "(octavia_status_transitions_total), per interval, counted once across replicas. Per "
        "cloud only: transitions carry no project.",
        "short",
        [target("sum by (from_status, to_status) (max by (cloud, from_status, to_status) ("
                f'increase(octavia_status_transitions_total{{{F},resource="amphora"}}'
                "[$__rate_interval])))", "amphora {{from_status}} → {{to_status}}", ref="A"),
         target("sum(max by (cloud) (increase(octavia_status_transitions_total"
                f'{{{F},resource="loadbalancer",field="provisioning_status",to_status="PENDING_UPDATE"}}'
                "[$__rate_interval])))", "load balancer → PENDING_UPDATE", ref="B")],
        w=12, h=8, options=TS_OPTIONS,
    ))

    panels.append(row(lay, "Certificates"))
    cert = f"max by ({amp}) (octavia_amphora_cert_expiration_timestamp_seconds{{{FP}}} > 0)"
    panels.append(panel(
        lay, "stat", "Certificates expiring",
        "Number of amphorae whose agent certificate expires within 7, 30 and 90 days "
        "(octavia_amphora_cert_expiration_timestamp_seconds; unknown expiries, exported as 0, "
        "are left out). Housekeeping rotates at 14 days before expiry by default, so anything "
        "under 7 days means rotation is not happening.",
        "short",
        [target(f"sum((\n  {cert}\n  - time()\n) < bool {days * 86400})", f"within {days} days",
                ref=ref) for ref, days in (("A", 7), ("B", 30), ("C", 90))],
        w=8, h=8, options={**STAT_OPTIONS, "orientation": "vertical"},
        defaults={"thresholds": thresholds((None, "green"))},
        overrides=[{"matcher": {"id": "byFrameRefID", "options": "A"}, "properties": [
            {"id": "thresholds", "value": thresholds((None, "green"), (1, "red"))}]}],
    ))
    panels.append(panel(
        lay, "bargauge", "Certificate expiry horizon",
        "The 20 amphorae whose certificate expires soonest, with the time left. Red below 3 "
        "days, yellow below 14 (the default rotation point).",
        "s",
        [target(f"bottomk(20,\n  {cert}\n  - time()\n)", "{{amphora_id}}", instant=True)],
        w=16, h=8, options=BAR_OPTIONS,
        defaults={"min": 0, "thresholds": thresholds(
            (None, "red"), (3 * 86400, "yellow"), (14 * 86400, "green"))},
    ))

    panels.append(row(lay, "Inventory"))
    panels.append(panel(
        lay, "table", "Amphorae without a load balancer",
        "Amphorae that serve no load balancer now: spares (READY, no load balancer) and "
        "amphorae whose load balancer is not (or no longer) listed, with status, compute "
        "instance, image and zone. Spares are expected when a spare pool is configured; "
        "others are leftovers to clean up. Not filtered by project (spares have none).",
        "none",
        [target(f"(\n  max by ({amp}, loadbalancer_id, status) (octavia_amphora_status"
                f'{{{F},loadbalancer_id=""}} == 1)\n'
                f"  or\n  (max by ({amp}, loadbalancer_id, status) (octavia_amphora_status"
                f'{{{F},loadbalancer_id!=""}} == 1)\n'
                "   unless on (cloud, loadbalancer_id) "
                f"octavia_loadbalancer_info{{{F}}})\n)\n"
                + info_join("amphora", F, "compute_id, image_id, cached_zone", on=amp),
                instant=True)],
        w=24, h=7, options=TABLE_OPTIONS,
        transformations=table_transform(["Value"], {
            "cloud": "Cloud", "amphora_id": "Amphora ID", "loadbalancer_id": "Load balancer ID",
            "status": "Status", "compute_id": "Compute ID", "image_id": "Image",
            "cached_zone": "Zone"}, ordered=True),
    ))
    panels.append(panel(
        lay, "bargauge", "Image ids in use",
        "Number of amphorae per Glance image id (octavia_amphora_info image_id): after an "
        "amphora image upgrade, what still runs the old image and needs a failover.",
        "short",
        [target(f"sum by (image_id) (max by ({amp}, image_id) (octavia_amphora_info{{{FP}}}))",
                "{{image_id}}", instant=True)],
        w=12, h=7, options=BAR_OPTIONS,
        defaults={"thresholds": thresholds((None, "blue"))},
    ))
    panels.append(panel(
        lay, "bargauge", "Compute flavors in use",
        "Number of amphorae per Nova flavor (octavia_amphora_info compute_flavor).",
        "short",
        [target(f"sum by (compute_flavor) (max by ({amp}, compute_flavor) "
                f"(octavia_amphora_info{{{FP}}}))", "{{compute_flavor}}", instant=True)],
        w=12, h=7, options=BAR_OPTIONS,
        defaults={"thresholds": thresholds((None, "blue"))},
    ))
    return dashboard(
        "octavia-amphorae", "Octavia / Amphorae",
        "Octavia amphorae from octavia-exporter (admin data): status by role and zone, "
        f"failovers, certificate expiry, spares and leftovers, images. See {RUNBOOKS}.",
        cloud_project_vars("octavia_amphora_info"), panels,
    )


# --------------------------------------------------------------------------------------------
# Exporter dashboard


def exporter() -> dict[str, Any]:
    lay = Layout()
    panels: list[Panel] = []

    panels.append(row(lay, "Polling"))
    panels.append(panel(
        lay, "timeseries", "Poll duration against the interval",
        "Per cloud and replica: wall time of the last tier-1 poll pass "
        "(octavia_poll_duration_seconds), of the last complete pass over per-load-balancer "
        "detail (octavia_detail_pass_duration_seconds), and, dashed, the configured --interval "
        "(octavia_poll_interval_seconds). A pass as long as the interval means the next one "
        "starts late.",
        "s",
        [target(f"octavia_poll_duration_seconds{{{F}}}", "{{cloud}} {{instance}} poll", ref="A"),
         target(f"octavia_detail_pass_duration_seconds{{{F}}}", "{{cloud}} {{instance}} detail",
                ref="B"),
         target(f"max by (cloud) (octavia_poll_interval_seconds{{{F}}})", "{{cloud}} interval",
                ref="C")],
        w=12, h=8, options=TS_OPTIONS, overrides=[dashed("C")],
    ))
    panels.append(panel(
        lay, "timeseries", "Poll cycles and errors",
        "Poll cycles per second by result (octavia_poll_cycles_total) and failed API calls "
        "that left objects at their last known state or failed a cycle, by endpoint and reason "
        "(octavia_poll_errors_total), per cloud and summed over replicas (each polls).",
        "ops",
        [target(f"sum by (cloud, result) (rate(octavia_poll_cycles_total{{{F}}}"
                "[$__rate_interval]))", "{{cloud}} cycles {{result}}", ref="A"),
         target(f"sum by (cloud, endpoint, reason) (rate(octavia_poll_errors_total{{{F}}}"
                "[$__rate_interval]))", "{{cloud}} {{endpoint}} {{reason}}", ref="B")],
        w=12, h=8, options=TS_OPTIONS,
    ))

    panels.append(row(lay, "API requests"))
    panels.append(panel(
        lay, "timeseries", "API requests by endpoint and code",
        "Requests from the exporter to the Octavia, Neutron and Keystone APIs per second, by "
        "endpoint template and HTTP code (or timeout / connection_error), summed over replicas "
        "(octavia_api_requests_total).",
        "reqps",
        [target(f"sum by (cloud, endpoint, code) (rate(octavia_api_requests_total{{{F}}}"
                "[$__rate_interval]))", "{{cloud}} {{endpoint}} {{code}}")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "API errors by endpoint and code",
        "The non-2xx part of the previous panel: which calls fail, and how.",
        "reqps",
        [target(f'sum by (cloud, endpoint, code) (rate(octavia_api_requests_total{{{F},'
                'code!~"2.."}[$__rate_interval]))', "{{cloud}} {{endpoint}} {{code}}")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "API latency by endpoint",
        "Median and 95th percentile of request latency per endpoint template, from "
        "octavia_api_request_duration_seconds (all replicas together).",
        "s",
        [target(f"histogram_quantile({q}, sum by (cloud, endpoint, le) (rate("
                f"octavia_api_request_duration_seconds_bucket{{{F}}}[$__rate_interval])))",
                f"{{{{cloud}}}} {{{{endpoint}}}} p{int(q * 100)}", ref=ref)
         for ref, q in (("A", 0.5), ("B", 0.95))],
        w=12, h=8, options=TS_OPTIONS, overrides=[dashed("A")],
    ))
    panels.append(panel(
        lay, "timeseries", "Authentications",
        "Keystone token fetches per interval by result (octavia_authentications_total). A "
        "token lasts hours: more than a few per hour means tokens are rejected or the "
        "exporter restarts.",
        "short",
        [target(f"sum by (cloud, result) (increase(octavia_authentications_total{{{F}}}"
                "[$__rate_interval]))", "{{cloud}} {{result}}")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "table", "Last errors",
        "The latest error per cloud and endpoint and when it happened "
        "(octavia_last_error_info, octavia_last_error_timestamp_seconds): reason "
        "connection_refused, dns, tls, timeout, unauthorized, forbidden, not_found, "
        "server_error, rate_limited, malformed or auth (endpoint keystone for Keystone).",
        "dateTimeAsIso",
        [target(f"max by (cloud, endpoint, reason) (octavia_last_error_info{{{F}}})\n"
                "* on (cloud, endpoint) group_left ()\n"
                f"max by (cloud, endpoint) (octavia_last_error_timestamp_seconds{{{F}}}) * 1000",
                instant=True)],
        w=24, h=6, options=TABLE_OPTIONS,
        transformations=table_transform([], {
            "cloud": "Cloud", "endpoint": "Endpoint", "reason": "Reason", "Value": "When"},
            ordered=True),
    ))

    panels.append(row(lay, "Request budget and concurrency"))
    panels.append(panel(
        lay, "timeseries", "Request rate against the budget",
        "Requests per second each replica sends per cloud, and, dashed, its budget "
        "(--api-max-rate, octavia_api_rate_limit_requests_per_second; 0 = no limit).",
        "reqps",
        [target(f"sum by (cloud, instance) (rate(octavia_api_requests_total{{{F}}}"
                "[$__rate_interval]))", "{{cloud}} {{instance}}", ref="A"),
         target(f"octavia_api_rate_limit_requests_per_second{{{F}}}",
                "{{cloud}} {{instance}} budget", ref="B")],
        w=12, h=8, options=TS_OPTIONS, overrides=[dashed("B")],
    ))
    panels.append(panel(
        lay, "timeseries", "Adaptive concurrency",
        "Requests in flight per cloud and replica (octavia_api_in_flight_requests) and, "
        "dashed, the adaptive concurrency limit (octavia_api_concurrency_limit, at most "
        "--concurrency), which drops when latency rises or the API answers 429/503 or times "
        "out.",
        "short",
        [target(f"octavia_api_in_flight_requests{{{F}}}", "{{cloud}} {{instance}} in flight",
                ref="A"),
         target(f"octavia_api_concurrency_limit{{{F}}}", "{{cloud}} {{instance}} limit",
                ref="B")],
        w=12, h=8, options=TS_OPTIONS, overrides=[dashed("B")],
    ))
    panels.append(panel(
        lay, "timeseries", "Concurrency limit decreases",
        "How often the adaptive limit was lowered, per interval, by reason (latency, 429, "
        "503, timeout) (octavia_api_limit_decreases_total).",
        "short",
        [target(f"sum by (cloud, reason) (increase(octavia_api_limit_decreases_total{{{F}}}"
                "[$__rate_interval]))", "{{cloud}} {{reason}}")],
        w=12, h=8, options=TS_OPTIONS,
    ))

    panels.append(row(lay, "Data freshness"))
    panels.append(panel(
        lay, "timeseries", "Detail age against the target",
        "How old the per-load-balancer detail (tier 2) is: median and 99th percentile over "
        "load balancers (octavia_detail_age_seconds, a gauge histogram computed at scrape "
        "time), the oldest (octavia_detail_oldest_age_seconds), and, dashed, the target "
        "(--detail-target, octavia_detail_age_target_seconds). Worst replica per cloud.",
        "s",
        [*[target(f"histogram_quantile({q}, max by (cloud, le) ("
                  f"octavia_detail_age_seconds_bucket{{{F}}}))",
                  f"{{{{cloud}}}} p{int(q * 100)}", ref=ref)
           for ref, q in (("A", 0.5), ("B", 0.99))],
         target(f"max by (cloud) (octavia_detail_oldest_age_seconds{{{F}}})",
                "{{cloud}} oldest", ref="C"),
         target(f"max by (cloud) (octavia_detail_age_target_seconds{{{F}}})",
                "{{cloud}} target", ref="D")],
        w=12, h=8, options=TS_OPTIONS, overrides=[dashed("D")],
    ))
    panels.append(panel(
        lay, "timeseries", "Detail backlog",
        "Load balancers waiting for their per-load-balancer detail to be read "
        "(octavia_detail_backlog), per cloud, worst replica. A backlog that only grows means "
        "the request budget or concurrency is too small for the fleet.",
        "short",
        [target(f"max by (cloud) (octavia_detail_backlog{{{F}}})", "{{cloud}}")],
        w=12, h=8, options=TS_OPTIONS,
    ))

    panels.append(row(lay, "Events"))
    panels.append(panel(
        lay, "timeseries", "Notifications",
        "Octavia notifications received per interval by event type "
        "(octavia_notifications_received_total) and dropped by reason "
        "(octavia_notifications_dropped_total), summed over replicas; only with "
        "--notifications-url.",
        "short",
        [target(f"sum by (cloud, event_type) (increase(octavia_notifications_received_total"
                f"{{{F}}}[$__rate_interval]))", "{{cloud}} {{event_type}}", ref="A"),
         target(f"sum by (cloud, reason) (increase(octavia_notifications_dropped_total{{{F}}}"
                "[$__rate_interval]))", "{{cloud}} dropped {{reason}}", ref="B")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Status transitions by resource",
        "Status changes the exporter saw between two poll cycles per resource kind and field "
        "(octavia_status_transitions_total), per interval, counted once across replicas.",
        "short",
        [target("sum by (resource, field) (max by (cloud, resource, field, from_status, "
                f"to_status) (increase(octavia_status_transitions_total{{{F}}}"
                "[$__rate_interval])))", "{{resource}} {{field}}")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    return dashboard(
        "octavia-exporter", "Octavia / Exporter",
        "octavia-exporter itself: polling, API requests, latency and errors, request budget, "
        f"adaptive concurrency, data freshness, notifications. See {RUNBOOKS}.",
        [datasource_var(), query_var("cloud", "Cloud", "label_values(octavia_up, cloud)")],
        panels,
    )


# --------------------------------------------------------------------------------------------
# Quotas and capacity dashboard


def capacity() -> dict[str, Any]:
    lay = Layout()
    panels: list[Panel] = []
    key = "cloud, project_id, resource"
    usage = f"max by ({key}) (octavia_quota_usage{{{FP}}})"
    limit = f"max by ({key}) (octavia_quota_limit{{{FP}}})"
    ratio = f"{usage}\n/\n({limit} > 0)"

    def named(expr: str) -> str:
        """`expr` (one series per project quota) with the project's name where the exporter
        could read it (octavia_project_info), and without one where it could not: a left
        join, so a project whose name is unknown keeps its rows."""
        return (f"(\n{expr}\n)\n* on (cloud, project_id) group_left (project_name)\n(\n"
                f"    topk by (cloud, project_id) (1, octavia_project_info{{{FP}}})\n"
                "  or on (cloud, project_id)\n"
                f"    0 * max by (cloud, project_id) (octavia_quota_limit{{{FP}}}) + 1\n)")

    panels.append(row(lay, "Quotas"))
    panels.append(panel(
        lay, "bargauge", "Projects closest to a quota limit",
        "The 15 project quotas with the highest usage / limit (octavia_quota_usage / "
        "octavia_quota_limit), unlimited quotas (-1) left out. Yellow from 90 %: the next "
        "creates may fail; red at 100 %: they do.",
        "percentunit",
        [target(named(f"topk(15,\n{ratio}\n)"), "{{project_name}} {{project_id}} {{resource}}",
                instant=True)],
        w=12, h=10, options=BAR_OPTIONS,
        defaults={"min": 0, "max": 1,
                  "thresholds": thresholds((None, "green"), (0.9, "yellow"), (1, "red"))},
    ))
    panels.append(panel(
        lay, "table", "Quota usage and limits",
        "Every project's quota per resource kind (load balancers, listeners, pools, members, "
        "health monitors, L7 policies, L7 rules): usage counted from the exporter's "
        "snapshot, limit (-1 = unlimited) and usage / limit; the project's name where "
        "Keystone let the exporter read it (octavia_project_info).",
        "short",
        [target(named(usage), ref="A", instant=True),
         target(named(limit), ref="B", instant=True),
         target(named(ratio), ref="C", instant=True)],
        w=12, h=10, options=TABLE_OPTIONS,
        overrides=[{"matcher": {"id": "byName", "options": "Used"}, "properties": [
            {"id": "unit", "value": "percentunit"},
            {"id": "custom.cellOptions", "value": {"type": "color-text"}},
            {"id": "thresholds", "value": thresholds(
                (None, "green"), (0.9, "yellow"), (1, "red"))}]}],
        transformations=[{"id": "merge", "options": {}}, *table_transform([], {
            "cloud": "Cloud", "project_id": "Project", "project_name": "Project name",
            "resource": "Resource", "Value #A": "Usage", "Value #B": "Limit",
            "Value #C": "Used"}, ordered=True)],
    ))
    panels.append(panel(
        lay, "timeseries", "Quota usage over time",
        "Usage / limit over time for the ten project quotas closest to their limit.",
        "percentunit",
        [target(named(f"topk(10,\n{ratio}\n)"), "{{project_name}} {{project_id}} {{resource}}")],
        w=12, h=8, options=TS_OPTIONS, defaults={"min": 0},
    ))
    panels.append(panel(
        lay, "table", "Default quotas",
        "The default quota per resource kind that projects without their own quota get "
        "(octavia_quota_default_limit; -1 = unlimited).",
        "short",
        [target(f"max by (cloud, resource) (octavia_quota_default_limit{{{F}}})",
                instant=True)],
        w=12, h=8, options=TABLE_OPTIONS,
        transformations=table_transform([], {
            "cloud": "Cloud", "resource": "Resource", "Value": "Default limit"}, ordered=True),
    ))

    panels.append(row(lay, "Where the fleet runs"))
    lbs = "max by (cloud, loadbalancer_id, {label}) (octavia_loadbalancer_info{{" + FP + "}})"
    for label, title, info in (
        ("flavor_id", "Load balancers per flavor",
         "Flavor ids; the Flavors table names them."),
        ("availability_zone", "Load balancers per availability zone",
         "Empty: no zone requested (Octavia's default)."),
        ("provider", "Load balancers per provider",
         "amphora, ovn, or a vendor driver."),
    ):
        panels.append(panel(
            lay, "bargauge", title,
            f"Number of load balancers per {label} (octavia_loadbalancer_info) for the "
            f"selected clouds and projects. {info}",
            "short",
            [target(f"sum by ({label}) ({lbs.format(label=label)})", f"{{{{{label}}}}}",
                    instant=True)],
            w=8, h=7, options=BAR_OPTIONS,
            defaults={"thresholds": thresholds((None, "blue"))},
        ))
    for kind, title, labels, columns in (
        ("flavor", "Flavors", "cloud, flavor_id, name, enabled, flavor_profile_id",
         {"cloud": "Cloud", "flavor_id": "Flavor ID", "name": "Name", "enabled": "Enabled",
          "flavor_profile_id": "Flavor profile", "Value #B": "Load balancers"}),
        ("availability_zone", "Availability zones",
         "cloud, availability_zone, enabled, availability_zone_profile_id",
         {"cloud": "Cloud", "availability_zone": "Zone", "enabled": "Enabled",
          "availability_zone_profile_id": "Zone profile", "Value #B": "Load balancers"}),
        ("provider", "Providers", "cloud, provider, description",
         {"cloud": "Cloud", "provider": "Provider", "description": "Description",
          "Value #B": "Load balancers"}),
    ):
        id_label = {"flavor": "flavor_id"}.get(kind, kind)
        panels.append(panel(
            lay, "table", title,
            f"Every {title.lower()[:-1]} Octavia knows (octavia_{kind}_info) and how many of "
            "the selected load balancers use it. Disabled ones take no new load balancers; "
            "those still counted here run on them.",
            "short",
            [target(f"max by ({labels}) (octavia_{kind}_info{{{F}}})", ref="A", instant=True),
             target(f"sum by (cloud, {id_label}) ({lbs.format(label=id_label)})", ref="B",
                    instant=True)],
            w=8, h=7, options=TABLE_OPTIONS,
            transformations=[{"id": "merge", "options": {}},
                             *table_transform(["Value #A"], columns, ordered=True)],
        ))

    panels.append(row(lay, "Listener connection limits"))
    lst = "cloud, listener_id"
    used = (f"max by ({lst}) (octavia_listener_active_connections{{{FP}}})\n/\n"
            f"max by ({lst}) (octavia_listener_connection_limit{{{FP}}} > 0)")
    l_join = info_join("listener", F, "loadbalancer_id, name, protocol, protocol_port")
    panels.append(panel(
        lay, "bargauge", "Listeners closest to their connection limit",
        "Active connections / connection limit for the 15 fullest listeners that have a "
        "limit (octavia_listener_active_connections / octavia_listener_connection_limit). "
        "At the limit HAProxy queues new connections and Octavia reports the listener "
        "DEGRADED (FULL).",
        "percentunit",
        [target(f"topk(15,\n{used}\n)\n{l_join}", "{{name}} {{protocol}}:{{protocol_port}}",
                instant=True)],
        w=12, h=8, options=BAR_OPTIONS,
        defaults={"min": 0, "max": 1,
                  "thresholds": thresholds((None, "green"), (0.9, "yellow"), (1, "red"))},
    ))
    panels.append(panel(
        lay, "table", "Listener connection limits",
        "Every listener with a connection limit (octavia_listener_connection_limit; "
        "listeners without one are unlimited and not listed), its active connections and "
        "load balancer.",
        "short",
        [target(f"max by ({lst}) (octavia_listener_connection_limit{{{FP}}})\n{l_join}",
                ref="A", instant=True),
         target(f"max by ({lst}) (octavia_listener_active_connections{{{FP}}})\n"
                f"and on ({lst}) octavia_listener_connection_limit{{{FP}}}", ref="B",
                instant=True)],
        w=12, h=8, options=TABLE_OPTIONS,
        transformations=[{"id": "merge", "options": {}}, *table_transform([], {
            "cloud": "Cloud", "loadbalancer_id": "Load balancer ID",
            "listener_id": "Listener ID", "name": "Name", "protocol": "Protocol",
            "protocol_port": "Port", "Value #A": "Limit", "Value #B": "Active"},
            ordered=True)],
    ))
    return dashboard(
        "octavia-capacity", "Octavia / Quotas and capacity",
        "Octavia quotas per project against their limits, where the fleet runs (flavors, "
        f"zones, providers) and listener connection limits, from octavia-exporter. See "
        f"{RUNBOOKS}.",
        cloud_project_vars(), panels,
    )


# --------------------------------------------------------------------------------------------
# Availability (SLO) dashboard

SLI = "octavia_loadbalancer_availability"


def availability() -> dict[str, Any]:
    lay = Layout()
    panels: list[Panel] = []
    budget_left = (f"1 - (1 - cloud:{SLI}:ratio30d{{{F}}})\n"
                   f"  / on (cloud) (1 - cloud:{SLI}:objective{{{F}}})")
    pct = {"decimals": 3}

    panels.append(row(lay, "Fleet"))
    panels.append(panel(
        lay, "stat", "Availability over the range",
        "Per cloud: the share of load-balancer time available over the dashboard's time "
        "range (available / counted load-balancer samples, from "
        "cloud:octavia_loadbalancer_available:sum and …counted:sum). Available: operating "
        "status ONLINE, DEGRADED or NO_MONITOR; admin down and PENDING_CREATE/DELETE not "
        "counted (docs/slo.md).",
        "percentunit",
        [target(f"sum_over_time(cloud:octavia_loadbalancer_available:sum{{{F}}}[$__range])\n"
                f"/ sum_over_time(cloud:octavia_loadbalancer_counted:sum{{{F}}}[$__range])",
                "{{cloud}}", instant=True)],
        w=6, h=5, options=STAT_OPTIONS, defaults={**pct, "thresholds": thresholds(
            (None, "red"), (0.999, "green"))},
    ))
    panels.append(panel(
        lay, "stat", "Error budget left (30 days)",
        "Per cloud: the part of the 30-day error budget not spent "
        "(1 - (1 - availability over 30 days) / (1 - objective)). 100 % untouched, 0 spent, "
        "negative overspent.",
        "percentunit",
        [target(budget_left, "{{cloud}}", instant=True)],
        w=6, h=5, options=STAT_OPTIONS, defaults={"decimals": 1, "thresholds": thresholds(
            (None, "red"), (0.25, "yellow"), (0.5, "green"))},
    ))
    panels.append(panel(
        lay, "stat", "Objective",
        "The availability objective per cloud (the recording rule "
        "cloud:octavia_loadbalancer_availability:objective; docs/slo.md says how to change "
        "it).",
        "percentunit",
        [target(f"cloud:{SLI}:objective{{{F}}}", "{{cloud}}", instant=True)],
        w=4, h=5, options=STAT_OPTIONS, defaults={**pct, "thresholds": thresholds(
            (None, "blue"))},
    ))
    panels.append(panel(
        lay, "bargauge", "Availability by window",
        "Per cloud: availability over the last 5 minutes, hour, 6 hours, day and 30 days "
        "(cloud:octavia_loadbalancer_availability:ratio<window>).",
        "percentunit",
        [target(f"cloud:{SLI}:ratio{w}{{{F}}}", f"{{{{cloud}}}} {w}", ref=ref, instant=True)
         for ref, w in (("A", "5m"), ("B", "1h"), ("C", "6h"), ("D", "1d"), ("E", "30d"))],
        w=8, h=5, options=BAR_OPTIONS, defaults={**pct, "thresholds": thresholds(
            (None, "red"), (0.999, "green"))},
    ))
    burn_windows = (("A", "5m"), ("B", "30m"), ("C", "1h"), ("D", "2h"), ("E", "6h"),
                    ("F", "1d"), ("G", "3d"))
    panels.append(panel(
        lay, "timeseries", "Burn rates",
        "How many times faster than the objective allows the error budget is being spent, "
        "per cloud and window (cloud:octavia_loadbalancer_availability:burnrate<window>). 1 "
        "spends exactly the budget in 30 days. The page fires when 1h and 5m are above 14.4 "
        "or 6h and 30m above 6; the ticket when 1d and 2h are above 3 or 3d and 6h above 1.",
        "x",
        [target(f"cloud:{SLI}:burnrate{w}{{{F}}}", f"{{{{cloud}}}} {w}", ref=ref)
         for ref, w in burn_windows],
        w=12, h=8, options=TS_OPTIONS,
        defaults={"custom": {"scaleDistribution": {"type": "log", "log": 10},
                             "thresholdsStyle": {"mode": "dashed"}},
                  "thresholds": thresholds((None, "green"), (1, "yellow"), (14.4, "red"))},
    ))
    panels.append(panel(
        lay, "timeseries", "Fleet availability over time",
        "Per cloud: availability over the last hour and the last day at each point in time "
        "(ratio1h, ratio1d), against the objective (dashed).",
        "percentunit",
        [target(f"cloud:{SLI}:ratio1h{{{F}}}", "{{cloud}} 1h", ref="A"),
         target(f"cloud:{SLI}:ratio1d{{{F}}}", "{{cloud}} 1d", ref="B"),
         target(f"cloud:{SLI}:objective{{{F}}}", "{{cloud}} objective", ref="C")],
        w=12, h=8, options=TS_OPTIONS, defaults=pct, overrides=[dashed("C")],
    ))

    panels.append(row(lay, "Per project"))
    project_budget = (f"1 - (1 - cloud_project:{SLI}:ratio30d{{{FP}}})\n"
                      f"  / on (cloud) group_left () (1 - cloud:{SLI}:objective{{{F}}})")
    panels.append(panel(
        lay, "table", "Availability per project",
        "Per project: availability over the last hour, day and 30 days "
        "(cloud_project:octavia_loadbalancer_availability:ratio<window>), the share of the "
        "30-day error budget left against the cloud's objective, and the number of load "
        "balancers counted now. Sort by a column to find the projects that spend the budget.",
        "percentunit",
        [target(f"cloud_project:{SLI}:ratio1h{{{FP}}}", ref="A", instant=True),
         target(f"cloud_project:{SLI}:ratio1d{{{FP}}}", ref="B", instant=True),
         target(f"cloud_project:{SLI}:ratio30d{{{FP}}}", ref="C", instant=True),
         target(project_budget, ref="D", instant=True),
         target(f"cloud_project:octavia_loadbalancer_counted:sum{{{FP}}}", ref="E",
                instant=True)],
        w=24, h=8, options=TABLE_OPTIONS, defaults=pct,
        overrides=[{"matcher": {"id": "byName", "options": "Load balancers"},
                    "properties": [{"id": "unit", "value": "short"},
                                   {"id": "decimals", "value": 0}]}],
        transformations=[{"id": "merge", "options": {}}, *table_transform([], {
            "cloud": "Cloud", "project_id": "Project", "Value #A": "1 hour", "Value #B": "1 day",
            "Value #C": "30 days", "Value #D": "Budget left", "Value #E": "Load balancers"},
            ordered=True)],
    ))
    panels.append(panel(
        lay, "timeseries", "Projects with the lowest availability",
        "Availability over the last hour of the ten projects that have the least, at each "
        "point in time (bottomk is evaluated per point).",
        "percentunit",
        [target(f"bottomk(10, cloud_project:{SLI}:ratio1h{{{FP}}})", "{{project_id}}")],
        w=24, h=8, options=TS_OPTIONS, defaults=pct,
    ))

    panels.append(row(lay, "Load balancers"))
    lb_join = info_join("loadbalancer", F, "name")
    per_lb = f"cloud_project_loadbalancer:octavia_loadbalancer_available:bool{{{FP}}}"
    panels.append(panel(
        lay, "table", "Load balancers unavailable now",
        "Load balancers that count against the SLI right now: operating status ERROR, or "
        "OFFLINE with admin state up (from "
        "cloud_project_loadbalancer:octavia_loadbalancer_available:bool == 0), with name.",
        "none",
        [target(f"({per_lb} == 0)\n{lb_join}", instant=True)],
        w=12, h=8, options=TABLE_OPTIONS,
        transformations=table_transform(["Value"], {
            "cloud": "Cloud", "project_id": "Project", "loadbalancer_id": "Load balancer ID",
            "name": "Name"}, ordered=True),
    ))
    panels.append(panel(
        lay, "table", "Least available load balancers over the range",
        "The 20 load balancers with the lowest availability over the dashboard's time range "
        "(avg_over_time of the per-load-balancer SLI). Reads every sample of every selected "
        "load balancer: select a project on big clouds or long ranges.",
        "percentunit",
        [target(f"bottomk(20, avg_over_time({per_lb}[$__range]))\n{lb_join}", instant=True)],
        w=12, h=8, options=TABLE_OPTIONS, defaults=pct,
        transformations=table_transform([], {
            "cloud": "Cloud", "project_id": "Project", "loadbalancer_id": "Load balancer ID",
            "name": "Name", "Value": "Availability"}, ordered=True),
    ))
    panels.append(panel(
        lay, "timeseries", "Load balancers available and counted",
        "How many of the selected load balancers count for the SLI and how many of them are "
        "available, over time (cloud_project:octavia_loadbalancer_available:sum and "
        "…counted:sum). The gap is the load balancers down.",
        "short",
        [target(f"sum(cloud_project:octavia_loadbalancer_counted:sum{{{FP}}})", "counted",
                ref="A"),
         target(f"sum(cloud_project:octavia_loadbalancer_available:sum{{{FP}}})", "available",
                ref="B")],
        w=24, h=7, options=TS_OPTIONS,
    ))
    return dashboard(
        "octavia-availability", "Octavia / Availability (SLO)",
        "Load-balancer availability SLO from octavia-exporter's recording rules: SLI per "
        "cloud and project, error budget, burn rates, least available load balancers. "
        f"See {RUNBOOKS}.",
        cloud_project_vars(), panels,
    )


# --------------------------------------------------------------------------------------------

BUILDERS = {
    "octavia-fleet.json": fleet,
    "octavia-loadbalancer.json": loadbalancer,
    "octavia-amphorae.json": amphorae,
    "octavia-exporter.json": exporter,
    "octavia-capacity.json": capacity,
    "octavia-availability.json": availability,
}


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    return {name: render(build()) for name, build in BUILDERS.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, text in generate().items():
        path = DASHBOARDS_DIR / name
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale: {', '.join(stale)}: run python dashboards/build_dashboards.py",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
