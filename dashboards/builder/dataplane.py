"""Octavia / Data plane: Octavia's own PROMETHEUS listeners (the amphorae's HAProxy figures),
joined to the exporter's names by id.

The series come from the scrape job that /discovery/prometheus-listeners feeds: their target
labels are cloud, project_id and loadbalancer_id, so the Cloud, Project and Load balancer
variables select them directly. HAProxy labels a listener `listener="<id>"`, a pool
`pool="<pool id>:<listener id>"` and a member `member="<id>"`; label_replace turns those into
the `*_id` labels the `*_info` series are keyed by.
"""

from __future__ import annotations

from typing import Any

from .panels import (
    RUNBOOKS,
    TABLE_OPTIONS,
    TS_OPTIONS,
    F,
    Layout,
    Panel,
    cloud_project_vars,
    dashboard,
    info_join,
    panel,
    query_var,
    row,
    table_transform,
    target,
    thresholds,
)

FILE = "octavia-dataplane.json"
# The data-plane series' own target labels, as matchers.
DP = 'cloud=~"$cloud",project_id=~"$project",loadbalancer_id=~"$loadbalancer"'
LB = "cloud, loadbalancer_id"


def _as_id(expr: str, kind: str, pattern: str = "(.+)", source: str | None = None) -> str:
    return (f'label_replace(\n  {expr},\n  "{kind}_id", "$1", "{source or kind}", '
            f'"{pattern}"\n)')


def _pool_id(expr: str) -> str:
    return _as_id(expr, "pool", "([^:]+):.*")


def build() -> dict[str, Any]:
    lay = Layout()
    panels: list[Panel] = []
    lb_name = info_join("loadbalancer", F, "name", on=LB)

    panels.append(row(lay, "Load balancers"))
    panels.append(panel(
        lay, "table", "Load balancers with a PROMETHEUS listener",
        "Every load balancer whose amphora metrics Prometheus scrapes now, with its name from "
        "octavia_loadbalancer_info: current connections, CPU and memory of the amphora "
        "holding the VIP (octavia_loadbalancer_current_connections, octavia_loadbalancer_cpu, "
        "octavia_loadbalancer_memory, in percent). A load balancer missing here has no "
        "PROMETHEUS listener, or Prometheus cannot reach it (see docs/operations.md).",
        "short",
        [target(f"max by (cloud, project_id, loadbalancer_id) "
                f"(octavia_loadbalancer_current_connections{{{DP}}})\n" + lb_name,
                instant=True, ref="A"),
         target(f"max by (cloud, project_id, loadbalancer_id) "
                f"(octavia_loadbalancer_cpu{{{DP}}})\n" + lb_name, instant=True, ref="B"),
         target(f"max by (cloud, project_id, loadbalancer_id) "
                f"(octavia_loadbalancer_memory{{{DP}}})\n" + lb_name, instant=True, ref="C")],
        w=24, h=7, options=TABLE_OPTIONS,
        transformations=[
            {"id": "merge", "options": {}},
            *table_transform([], {
                "cloud": "Cloud", "name": "Name", "loadbalancer_id": "Load balancer ID",
                "project_id": "Project", "Value #A": "Connections", "Value #B": "CPU %",
                "Value #C": "Memory %"}, ordered=True),
        ],
    ))
    panels.append(panel(
        lay, "timeseries", "Connections per second",
        "New connections per second per load balancer, as HAProxy counts them "
        "(rate of octavia_loadbalancer_connections_total), named from "
        "octavia_loadbalancer_info.",
        "cps",
        [target(f"sum by ({LB}) (rate(octavia_loadbalancer_connections_total{{{DP}}}"
                "[$__rate_interval]))\n" + lb_name, "{{name}} ({{loadbalancer_id}})")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Amphora CPU",
        "CPU use of the amphora holding each load balancer's VIP, in percent of its vCPUs "
        "(octavia_loadbalancer_cpu: the load average over the CPU count).",
        "percent",
        [target(f"max by ({LB}) (octavia_loadbalancer_cpu{{{DP}}})\n" + lb_name,
                "{{name}} ({{loadbalancer_id}})")],
        w=12, h=8, options=TS_OPTIONS,
    ))

    panels.append(row(lay, "Listeners"))
    listener_name = info_join("listener", F, "name, protocol, protocol_port",
                              on="cloud, listener_id")
    responses = "octavia_listener_http_responses_total"
    by_listener = "cloud, loadbalancer_id, listener"
    panels.append(panel(
        lay, "timeseries", "HTTP responses by code class",
        "HTTP answers per second of every selected listener, by code class "
        "(octavia_listener_http_responses_total). HAProxy counts the answers the members "
        "send and the ones it makes itself (503 when no member is UP, 504 on a member "
        "timeout).",
        "reqps",
        [target(f"sum by (code) (rate({responses}{{{DP}}}[$__rate_interval]))", "{{code}}")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    ratio = (f"sum by ({by_listener}) (rate({responses}{{{DP},code=\"5xx\"}}"
             f"[$__rate_interval]))\n  /\n  sum by ({by_listener}) "
             f"(rate({responses}{{{DP}}}[$__rate_interval]))")
    panels.append(panel(
        lay, "timeseries", "HTTP 5xx share per listener",
        "Share of each HTTP listener's answers that are 5xx (the OctaviaListenerHttp5xxRatioHigh "
        "alert fires above 5 % for 10 minutes), named from octavia_listener_info. A listener "
        "without traffic in the interval has no value.",
        "percentunit",
        [target(_as_id(ratio, "listener") + "\n" + listener_name,
                "{{name}} {{protocol}}:{{protocol_port}}")],
        w=12, h=8, options=TS_OPTIONS,
        defaults={"min": 0, "thresholds": thresholds((None, "green"), (0.05, "red"))},
    ))
    panels.append(panel(
        lay, "timeseries", "Sessions per listener",
        "Current sessions of each listener as HAProxy sees them "
        "(octavia_listener_current_sessions), named from octavia_listener_info.",
        "short",
        [target(_as_id(f"max by ({by_listener}) "
                       f"(octavia_listener_current_sessions{{{DP}}})", "listener")
                + "\n" + listener_name, "{{name}} {{protocol}}:{{protocol_port}}")],
        w=24, h=8, options=TS_OPTIONS,
    ))

    panels.append(row(lay, "Pools and members"))
    pool_name = info_join("pool", F, "name", on="cloud, pool_id")
    by_pool = "cloud, loadbalancer_id, pool"
    panels.append(panel(
        lay, "timeseries", "Queue time per pool",
        "HAProxy's average time a request waited for a free member, over its last 1024 "
        "connections, per pool and listener (octavia_pool_queue_time_average_seconds; the "
        "OctaviaPoolQueueTimeHigh alert fires above 0.5 s for 10 minutes).",
        "s",
        [target(_pool_id(f"max by ({by_pool}) "
                         f"(octavia_pool_queue_time_average_seconds{{{DP}}})")
                + "\n" + pool_name, "{{name}} ({{pool}})")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Response time per pool",
        "HAProxy's average member response time over its last 1024 connections, per pool and "
        "listener (octavia_pool_response_time_average_seconds).",
        "s",
        [target(_pool_id(f"max by ({by_pool}) "
                         f"(octavia_pool_response_time_average_seconds{{{DP}}})")
                + "\n" + pool_name, "{{name}} ({{pool}})")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    by_member = "cloud, loadbalancer_id, pool, member"
    member_name = info_join("member", F, "name, address, protocol_port",
                            on="cloud, member_id")
    panels.append(panel(
        lay, "table", "Members DOWN in HAProxy",
        "Members HAProxy holds DOWN now (octavia_member_status 0), with name and address from "
        "octavia_member_info and the pool:listener backend. The API's view of the same "
        "member (operating_status) is on \"Octavia / Load balancer\".",
        "none",
        [target(_as_id(f"max by ({by_member}) (octavia_member_status{{{DP}}}) == 0",
                       "member") + "\n" + member_name, instant=True)],
        w=24, h=7, options=TABLE_OPTIONS,
        transformations=table_transform(["Value"], {
            "cloud": "Cloud", "name": "Member", "address": "Address",
            "protocol_port": "Port", "member_id": "Member ID", "pool": "Pool:listener",
            "loadbalancer_id": "Load balancer ID"}, ordered=True),
    ))
    panels.append(panel(
        lay, "timeseries", "Member check failures",
        "Failed health checks per member and interval (increase of "
        "octavia_member_check_failures_total: HAProxy counts the checks failed while the member "
        "was UP; max_retries_down of them take it DOWN).",
        "short",
        [target(_as_id(f"sum by ({by_member}) (increase("
                       f"octavia_member_check_failures_total{{{DP}}}[$__rate_interval]))",
                       "member") + "\n" + member_name, "{{name}} {{address}}:{{protocol_port}}")],
        w=12, h=8, options=TS_OPTIONS,
    ))
    panels.append(panel(
        lay, "timeseries", "Member downtime",
        "Share of the time each member was DOWN in HAProxy "
        "(rate of octavia_member_downtime_seconds_total: 1 = down all along; the "
        "OctaviaMemberDowntime alert fires once it has grown for 5 minutes).",
        "percentunit",
        [target(_as_id(f"max by ({by_member}) (rate("
                       f"octavia_member_downtime_seconds_total{{{DP}}}[$__rate_interval]))",
                       "member") + "\n" + member_name, "{{name}} {{address}}:{{protocol_port}}")],
        w=12, h=8, options=TS_OPTIONS,
        defaults={"min": 0, "max": 1},
    ))
    variables = [
        *cloud_project_vars(),
        query_var("loadbalancer", "Load balancer",
                  'label_values(octavia_listener_info{cloud=~"$cloud",project_id=~"$project",'
                  'protocol="PROMETHEUS"}, loadbalancer_id)'),
    ]
    return dashboard(
        "octavia-dataplane", "Octavia / Data plane",
        "Octavia's own PROMETHEUS listeners (the amphorae's HAProxy figures), discovered "
        "through octavia-exporter and named from its *_info series: connections, HTTP codes, "
        f"queue and response times, member checks and downtime. See {RUNBOOKS}.",
        variables, panels,
    )
