"""Every PromQL expression the project ships, ready to send to a real Prometheus.

    from tests.rules.promql_inventory import all_expressions
    for where, expr in all_expressions():
        ...  # GET /api/v1/query?query=<expr>

Covered: every dashboard target, every dashboard template-variable query (label_values(x, l)
becomes the selector x, query_result(q) becomes q), and every rule `expr`. Grafana variables
are replaced by values Prometheus accepts (see substitute()); pass `values` to choose them
(the end-to-end tests use a short $__rate_interval). label_value_queries() says which entries
are label_values(x, l) variables and which label they ask for, so a test can call
/api/v1/label/<l>/values?match[]=x the way Grafana does.

Expressions that read recording-rule series (names with a colon) only return data when
alerts/octavia-recording.rules.yml is loaded in that Prometheus; recording_rule_inputs() names
them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO / "dashboards"
ALERTS_DIR = REPO / "alerts"

# Grafana's built-in interval variables, as Prometheus durations / numbers.
BUILTIN_VALUES = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
    "__interval_ms": "60000",
}
# Dashboard variables are only ever used as regex matchers (label=~"$var"), so "match all"
# is a valid stand-in for any of them.
DEFAULT_VALUE = ".*"

# A Grafana variable's name starts with a letter or "_": `$1` is label_replace's first group.
_VARIABLE = re.compile(
    r"\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$([A-Za-z_]\w*)")
_LABEL_VALUES = re.compile(
    r"^\s*label_values\((?P<selector>.+),\s*(?P<label>\w+)\s*\)\s*$", re.S
)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<query>.+)\)\s*$", re.S)
_RECORDED = re.compile(r"(?<![\w:])([a-zA-Z_]\w*:[\w:]+)")


def substitute(expr: str, values: dict[str, str] | None = None) -> str:
    """Replace Grafana variables ($x, ${x}, ${x:fmt}, [[x]]) with values Prometheus accepts.

    Built-in intervals become durations ($__rate_interval -> 5m); any other variable becomes
    `values[name]` if given, else ".*".
    """
    chosen = {**BUILTIN_VALUES, **(values or {})}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return chosen.get(name, DEFAULT_VALUE)

    return _VARIABLE.sub(replace, expr)


def leftover_variables(expr: str) -> list[str]:
    """The Grafana variable references left in `expr` (none once substitute() ran)."""
    return [m.group(0) for m in _VARIABLE.finditer(expr)]


def variable_query_to_promql(query: str) -> str | None:
    """The PromQL a Grafana Prometheus variable query runs, or None for label_names() etc."""
    match = _LABEL_VALUES.match(query)
    if match:
        return match.group("selector").strip()
    match = _QUERY_RESULT.match(query)
    if match:
        return match.group("query").strip()
    return None


def _variable_query(var: dict[str, Any]) -> str:
    query = var.get("query")
    if isinstance(query, dict):
        return str(query.get("query", ""))
    return str(query or var.get("definition", ""))


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for panel in panels:
        out.append(panel)
        out.extend(_panels(panel.get("panels", [])))  # panels inside collapsed rows
    return out


def _dashboards() -> list[tuple[Path, dict[str, Any]]]:
    return [(path, json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(DASHBOARDS_DIR.glob("*.json"))]


def dashboard_expressions(
    raw: bool = False, values: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """(where, expr) for every target and variable query of every dashboard."""
    out = []
    for path, board in _dashboards():
        for var in board.get("templating", {}).get("list", []):
            if var.get("type") != "query":
                continue
            promql = variable_query_to_promql(_variable_query(var))
            if promql is not None:
                where = f"{path.name}: variable ${var['name']}"
                out.append((where, promql if raw else substitute(promql, values)))
        for panel in _panels(board.get("panels", [])):
            for tgt in panel.get("targets", []):
                expr = tgt.get("expr")
                if expr:
                    where = f"{path.name}: panel {panel['title']!r} target {tgt.get('refId')}"
                    out.append((where, expr if raw else substitute(expr, values)))
    return out


def label_value_queries(values: dict[str, str] | None = None) -> dict[str, tuple[str, str]]:
    """where -> (selector, label) for every label_values(selector, label) variable query, with
    the same `where` as dashboard_expressions() and variables substituted."""
    out = {}
    for path, board in _dashboards():
        for var in board.get("templating", {}).get("list", []):
            if var.get("type") != "query":
                continue
            match = _LABEL_VALUES.match(_variable_query(var))
            if match:
                where = f"{path.name}: variable ${var['name']}"
                out[where] = (substitute(match.group("selector").strip(), values),
                              match.group("label"))
    return out


def rule_expressions() -> list[tuple[str, str]]:
    """(where, expr) for every alerting and recording rule."""
    out = []
    for path in sorted(ALERTS_DIR.glob("*.rules.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    name = f"alert {rule['alert']} ({rule.get('labels', {}).get('severity')})"
                else:
                    name = f"record {rule['record']}"
                out.append((f"{path.name}: {name}", rule["expr"]))
    return out


def all_expressions(values: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """(where, expr) for every shipped PromQL expression, Grafana variables substituted
    (with `values` where given, see substitute())."""
    return dashboard_expressions(values=values) + rule_expressions()


def recording_rule_inputs(expr: str) -> set[str]:
    """The recording-rule series (level:metric:operations names) an expression reads."""
    return set(_RECORDED.findall(expr))
