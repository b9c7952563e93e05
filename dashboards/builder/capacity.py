"""Octavia / Quotas and capacity: quotas against limits, where the fleet runs, listener
connection limits."""

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
    cloud_project_vars,
    dashboard,
    info_join,
    panel,
    row,
    table_transform,
    target,
    thresholds,
)

FILE = "octavia-capacity.json"


def build() -> dict[str, Any]:
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
    used = (f"max by ({lst}) (octavia_listener_stats_active_connections{{{FP}}})\n/\n"
            f"max by ({lst}) (octavia_listener_connection_limit{{{FP}}} > 0)")
    l_join = info_join("listener", F, "loadbalancer_id, name, protocol, protocol_port")
    panels.append(panel(
        lay, "bargauge", "Listeners closest to their connection limit",
        "Active connections / connection limit for the 15 fullest listeners that have a "
        "limit (octavia_listener_stats_active_connections / octavia_listener_connection_limit). "
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
         target(f"max by ({lst}) (octavia_listener_stats_active_connections{{{FP}}})\n"
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

