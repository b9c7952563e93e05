"""Octavia / Load balancer: one load balancer's status, listeners, pools and members, amphorae."""

from __future__ import annotations

from typing import Any

from .panels import (
    BAR_OPTIONS,
    RUNBOOKS,
    TABLE_OPTIONS,
    TS_OPTIONS,
    Layout,
    Panel,
    dashboard,
    dashed,
    datasource_var,
    floating_ip_join,
    info_join,
    panel,
    query_var,
    row,
    state_code_expr,
    status_mappings,
    table_transform,
    target,
    textbox_var,
    thresholds,
)

FILE = "octavia-loadbalancer.json"
L = 'cloud=~"$cloud",loadbalancer_id=~"$loadbalancer"'


def build() -> dict[str, Any]:
    lay = Layout()
    panels: list[Panel] = []
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
        w=24, h=5, options=TABLE_OPTIONS,
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
        "Connections open on the load balancer now "
        "(octavia_loadbalancer_stats_active_connections, summed over its listeners by Octavia).",
        "short",
        [target(f"max(octavia_loadbalancer_stats_active_connections{{{L}}})",
                "active")],
        w=6, h=4,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "colorMode": "none", "graphMode": "area", "textMode": "value"},
    ))
    panels.append(panel(
        lay, "stat", "Traffic in / out",
        "Bytes per second received and sent by the load balancer "
        "(octavia_loadbalancer_stats_bytes_in_total / octavia_loadbalancer_stats_bytes_out_total, "
        "rated).",
        "Bps",
        [target(f"max(rate(octavia_loadbalancer_stats_bytes_in_total{{{L}}}"
                "[$__rate_interval]))", "in", ref="A"),
         target(f"max(rate(octavia_loadbalancer_stats_bytes_out_total{{{L}}}"
                "[$__rate_interval]))", "out", ref="B")],
        w=6, h=4,
        options={"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "colorMode": "none", "graphMode": "area", "textMode": "value_and_name"},
    ))

    panels.append(row(lay, "Listeners"))
    by_l = "max by (cloud, listener_id)"
    l_join = info_join("listener", L, "name, protocol, protocol_port")
    legend = "{{name}} {{protocol}}:{{protocol_port}}"
    panels.append(panel(
        lay, "timeseries", "Listener traffic",
        "Bytes per second in and out of each listener of the load balancer "
        "(octavia_listener_stats_bytes_in_total / octavia_listener_stats_bytes_out_total, rated). "
        "Out is drawn below zero.",
        "Bps",
        [target(f"{by_l} (rate(octavia_listener_stats_bytes_in_total{{{L}}}[$__rate_interval]))\n"
                f"{l_join}", f"{legend} in", ref="A"),
         target(f"{by_l} (rate(octavia_listener_stats_bytes_out_total{{{L}}}[$__rate_interval]))\n"
                f"{l_join}", f"{legend} out", ref="B")],
        w=12, h=8, options=TS_OPTIONS,
        overrides=[{"matcher": {"id": "byFrameRefID", "options": "B"},
                    "properties": [{"id": "custom.transform", "value": "negative-Y"}]}],
    ))
    panels.append(panel(
        lay, "timeseries", "Listener new connections",
        "New connections per second accepted by each listener "
        "(octavia_listener_stats_connections_total, rated).",
        "cps",
        [target(f"{by_l} (rate(octavia_listener_stats_connections_total{{{L}}}"
                f"[$__rate_interval]))\n{l_join}", legend)],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Listener active connections and limit",
        "Connections open on each listener (octavia_listener_stats_active_connections) and, "
        "dashed, its connection limit where one is set (octavia_listener_connection_limit; "
        "absent for unlimited listeners). The OctaviaListenerNearConnectionLimit alert fires "
        "above 90%.",
        "short",
        [target(f"{by_l} (octavia_listener_stats_active_connections{{{L}}})\n{l_join}", legend,
                ref="A"),
         target(f"{by_l} (octavia_listener_connection_limit{{{L}}})\n{l_join}",
                f"{legend} limit", ref="B")],
        w=12, h=8, options=TS_OPTIONS,
        overrides=[dashed("B")],
    ))
    panels.append(panel(
        lay, "timeseries", "Listener request-error ratio",
        "Request errors per new connection for each listener (rate of "
        "octavia_listener_stats_request_errors_total / rate of "
        "octavia_listener_stats_connections_total). "
        "Request errors are requests HAProxy rejected or could not parse; with keep-alive "
        "several requests share a connection, so this is an indicator, not an exact "
        "percentage. The OctaviaListenerRequestErrorsHigh alert fires above 5%.",
        "percentunit",
        [target(f"{by_l} (rate(octavia_listener_stats_request_errors_total{{{L}}}"
                f"[$__rate_interval]))\n/\n{by_l} (rate(octavia_listener_stats_connections_total"
                f"{{{L}}}[$__rate_interval]) > 0)\n{l_join}", legend)],
        w=12, h=8, options=TS_OPTIONS,
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
    member_details = {"B": ("octavia_member_configured_weight", "Weight"),
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
        w=24, h=8, options=TABLE_OPTIONS,
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
        w=14, h=6, options=TABLE_OPTIONS,
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
        options=BAR_OPTIONS,
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

