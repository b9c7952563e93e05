"""Octavia / Fleet: exporter health, objects by status, what is not healthy now, the busiest load
balancers."""

from __future__ import annotations

from typing import Any

from .panels import (
    BAR_OPTIONS,
    FP,
    RUNBOOKS,
    TABLE_OPTIONS,
    TS_OPTIONS,
    F,
    Layout,
    Panel,
    dashboard,
    datasource_var,
    floating_ip_join,
    info_join,
    panel,
    query_var,
    row,
    table_transform,
    target,
    thresholds,
)

FILE = "octavia-fleet.json"


def build() -> dict[str, Any]:
    lay = Layout()
    panels: list[Panel] = []

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
        w=12, h=5, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Octavia API errors by code",
        "Requests from the exporter to the Octavia and Keystone APIs that did not answer 2xx, "
        "per second, by cloud and HTTP code (or timeout / connection_error), summed over "
        "replicas (each replica really makes its own requests).",
        "reqps",
        [target(f'sum by (cloud, code) (rate(octavia_api_requests_total{{{F},code!~"2.."}}'
                f"[$__rate_interval]))", "{{cloud}} {{code}}")],
        w=12, h=7, options=TS_OPTIONS,
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
        w=12, h=7, options=TS_OPTIONS,
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
            w=6, h=6, options=BAR_OPTIONS,
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
            w=6, h=6, options=BAR_OPTIONS,
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
        w=6, h=6, options=BAR_OPTIONS,
        defaults={"thresholds": thresholds((None, "blue"))},
    ))
    panels.append(panel(
        lay, "bargauge", "Health monitors by operating status",
        "Number of health monitors in each operating status, from "
        "cloud_project_status:octavia_healthmonitor_operating_status:sum.",
        "short",
        [target("sum by (status) (cloud_project_status:octavia_healthmonitor_operating_status:sum"
                f"{{{FP}}})", "{{status}}")],
        w=6, h=6, options=BAR_OPTIONS,
        defaults={"thresholds": thresholds((None, "blue"))},
    ))
    panels.append(panel(
        lay, "timeseries", "Load balancers not ONLINE over time",
        "Load balancers per operating status other than ONLINE, over time: when did the "
        "DEGRADED / ERROR / OFFLINE count change?",
        "short",
        [target("sum by (status) (cloud_project_status:octavia_loadbalancer_operating_status:sum"
                f'{{{FP},status!="ONLINE"}})', "{{status}}")],
        w=12, h=6, options=TS_OPTIONS,
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
        w=12, h=7, options=TS_OPTIONS,
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
            w=12, h=8, options=TABLE_OPTIONS,
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
        w=12, h=8, options=TABLE_OPTIONS,
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
        w=12, h=8, options=TABLE_OPTIONS,
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
        w=24, h=7, options=TABLE_OPTIONS,
        transformations=table_transform(["Value"], {
            "cloud": "Cloud", "project_id": "Project", "loadbalancer_id": "Load balancer ID",
            "amphora_id": "Amphora ID", "status": "Status", "role": "Role",
            "compute_id": "Compute ID", "lb_network_ip": "lb-mgmt IP"}),
    ))

    # -- traffic ---------------------------------------------------------------------------------
    panels.append(row(lay, "Traffic: top load balancers"))
    lb_name_join = info_join("loadbalancer", F, "name")
    by_lb = "max by (cloud, project_id, loadbalancer_id)"
    panels.append(panel(
        lay, "timeseries", "Top 10 load balancers by traffic",
        "The ten load balancers with the most bytes in + out per second (Octavia's cumulative "
        "bytes_in/bytes_out counters, rated). topk is evaluated at every step, so more than "
        "ten may appear over a long range.",
        "Bps",
        [target(f"topk(10,\n  {by_lb} (rate(octavia_loadbalancer_stats_bytes_in_total{{{FP}}}"
                f"[$__rate_interval]))\n  + on (cloud, project_id, loadbalancer_id)\n  {by_lb} "
                f"(rate(octavia_loadbalancer_stats_bytes_out_total{{{FP}}}[$__rate_interval]))\n)\n"
                f"{lb_name_join}", "{{name}} ({{loadbalancer_id}})")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Top 10 load balancers by new connections",
        "The ten load balancers accepting the most new connections per second "
        "(octavia_loadbalancer_stats_connections_total, rated).",
        "cps",
        [target(f"topk(10, {by_lb} (rate(octavia_loadbalancer_stats_connections_total{{{FP}}}"
                f"[$__rate_interval])))\n{lb_name_join}", "{{name}} ({{loadbalancer_id}})")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Top 10 load balancers by active connections",
        "The ten load balancers with the most open connections "
        "(octavia_loadbalancer_stats_active_connections, a gauge).",
        "short",
        [target(f"topk(10, {by_lb} (octavia_loadbalancer_stats_active_connections{{{FP}}}))\n"
                f"{lb_name_join}", "{{name}} ({{loadbalancer_id}})")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Top 10 load balancers by request errors",
        "The ten load balancers counting the most request errors per second "
        "(octavia_loadbalancer_stats_request_errors_total, rated): requests HAProxy rejected "
        "or could not parse, not HTTP 5xx from members.",
        "reqps",
        [target(f"topk(10, {by_lb} (rate(octavia_loadbalancer_stats_request_errors_total{{{FP}}}"
                f"[$__rate_interval])) > 0)\n{lb_name_join}", "{{name}} ({{loadbalancer_id}})")],
        w=12, h=8, options=TS_OPTIONS,
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

