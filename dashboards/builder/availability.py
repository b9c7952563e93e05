"""Octavia / Availability (SLO): the SLI per cloud and project, error budget, burn rates."""

from __future__ import annotations

from typing import Any

from .panels import (
    BAR_OPTIONS,
    FP,
    RUNBOOKS,
    STAT_OPTIONS,
    TABLE_OPTIONS,
    TS_OPTIONS,
    F,
    Layout,
    Panel,
    cloud_project_vars,
    dashboard,
    dashed,
    info_join,
    panel,
    row,
    table_transform,
    target,
    thresholds,
)

FILE = "octavia-availability.json"
SLI = "octavia_loadbalancer_availability"


def build() -> dict[str, Any]:
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

