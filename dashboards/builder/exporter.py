"""Octavia / Exporter: the exporter's own polling, API requests, budget, freshness and events."""

from __future__ import annotations

from typing import Any

from .panels import (
    RUNBOOKS,
    TABLE_OPTIONS,
    TS_OPTIONS,
    F,
    Layout,
    Panel,
    dashboard,
    dashed,
    datasource_var,
    panel,
    query_var,
    row,
    table_transform,
    target,
)

FILE = "octavia-exporter.json"


def build() -> dict[str, Any]:
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

