"""What every dashboard is made of: panels and their grid, queries, variables, the dashboard
shell, and the PromQL joins the boards share, so that every panel gets the same data source,
unit, description and query conventions."""

from __future__ import annotations

from typing import Any

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
# Panels, queries and layout


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
# Matchers and options the dashboards share

# The Cloud and Project variables, as label matchers.
F = 'cloud=~"$cloud"'
FP = 'cloud=~"$cloud",project_id=~"$project"'


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

