"""Every shipped PromQL expression, against a real Prometheus scraping real exporters.

Each dashboard target, dashboard variable query and rule expression (tests/rules/
promql_inventory.py) is its own test: it must parse, and it must return data for the seeded
scenario (tests/e2e/scenario.py) — an expression that silently returns nothing fails.
label_values() variables go through /api/v1/label/<label>/values as Grafana sends them.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.harness import wait_until
from tests.rules.promql_inventory import all_expressions, label_value_queries, leftover_variables
from tests.rules.rulefiles import alerting_rules, recording_rules
from tests.support.e2e import E2E_VALUES, RECORDING_RULES, Stack, query_nonempty

EXPRESSIONS = all_expressions(E2E_VALUES)
LABEL_VALUE_QUERIES = label_value_queries(E2E_VALUES)

# Expressions that are empty by design whenever an exporter is being scraped — which the whole
# scenario needs. They are evaluated at a moment before Prometheus's first scrape instead (the
# situation they exist for), and must be empty now.
# - absent(octavia_up): "no exporter data at all".
BEFORE_ANY_DATA = {"octavia-alerts.rules.yml: alert OctaviaExporterAbsent (critical)"}

ALERTS = alerting_rules()
ALERT_IDS = [f"{r['alert']}-{r['labels']['severity']}" for r in ALERTS]


def test_the_recording_rule_copy_only_drops_group_intervals(stack: Stack) -> None:
    shipped = yaml.safe_load(RECORDING_RULES.read_text(encoding="utf-8"))
    copy = yaml.safe_load(stack.recording_rules_copy.read_text(encoding="utf-8"))
    assert any("interval" in g for g in shipped["groups"])  # or the copy is pointless
    assert copy["groups"] == [{k: v for k, v in g.items() if k != "interval"}
                              for g in shipped["groups"]]


def test_every_grafana_variable_was_substituted() -> None:
    assert EXPRESSIONS
    leftovers = [(where, expr) for where, expr in EXPRESSIONS if leftover_variables(expr)]
    assert not leftovers


def test_allow_list_names_real_expressions() -> None:
    assert {where for where, _ in EXPRESSIONS} >= BEFORE_ANY_DATA


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[w for w, _ in EXPRESSIONS])
def test_expression_parses_and_returns_data(stack: Stack, where: str, expr: str) -> None:
    if where in LABEL_VALUE_QUERIES:
        selector, label = LABEL_VALUE_QUERIES[where]
        values = wait_until(lambda: stack.prom.label_values(label, selector),
                            f"label values of {label} for {selector}", 15.0)
        assert all(values), values
        if label == "cloud":
            assert "simulator" in values
        return
    if where in BEFORE_ANY_DATA:
        result = stack.prom.query(expr, at=stack.before_any_data)
        assert result, f"{expr} at a time without data"
        assert stack.prom.query(expr) == [], f"{expr} is not empty with data"
        return
    result = query_nonempty(stack, expr)
    # Some series may be NaN (histogram_quantile of an endpoint without requests in the
    # window; Grafana draws a gap), but a result of nothing but NaN shows nothing either.
    values = [float(series["value"][1]) for series in result]
    assert any(not math.isnan(v) for v in values), f"only NaN from {expr}: {result[:5]}"


@pytest.mark.parametrize("record", [r["record"] for r in recording_rules()])
def test_recording_rule_produces_series(stack: Stack, record: str) -> None:
    result = query_nonempty(stack, f'{{__name__="{record}"}}')
    # Recording rules aggregate target labels away: one series per object or group.
    assert all("instance" not in s["metric"] for s in result), result[:3]


def test_prometheus_loaded_every_rule_and_evaluates_it_without_error(stack: Stack) -> None:
    loaded: dict[str, list[dict[str, Any]]] = {}
    for group in stack.prom.rule_groups():
        for rule in group["rules"]:
            loaded.setdefault(rule["name"], []).append(rule)
    shipped = [r.get("alert") or r.get("record") for r in ALERTS + recording_rules()]
    assert sorted(loaded) == sorted(set(shipped))

    def all_healthy() -> list[str] | None:
        bad = [f"{name}: {rule['health']} {rule.get('lastError', '')}"
               for name, rules in loaded.items() for rule in rules if rule["health"] != "ok"]
        return None if bad else ["ok"]

    for name, rules in loaded.items():
        assert len(rules) == shipped.count(name), name
    wait_until(all_healthy, "every rule evaluated without error", 10.0)
    for group in stack.prom.rule_groups():
        for rule in group["rules"]:
            assert rule["health"] == "ok", (rule["name"], rule.get("lastError"))


def _alerts_of(stack: Stack, name: str, severity: str) -> list[dict[str, Any]]:
    return [a for a in stack.prom.alerts()
            if a["labels"]["alertname"] == name and a["labels"]["severity"] == severity]


@pytest.mark.parametrize("rule", ALERTS, ids=ALERT_IDS)
def test_alert_fires_in_the_scenario_with_rendered_annotations(
        stack: Stack, rule: dict[str, Any]) -> None:
    """With `for:` shortened (see conftest.py), every alert the scenario provokes fires, and
    its annotation templates find every label they use."""
    name, severity = rule["alert"], rule["labels"]["severity"]
    if f"octavia-alerts.rules.yml: alert {name} ({severity})" in BEFORE_ANY_DATA:
        assert _alerts_of(stack, name, severity) == []
        return
    firing = wait_until(
        lambda: [a for a in _alerts_of(stack, name, severity) if a["state"] == "firing"],
        f"{name} ({severity}) firing", 20.0, on_timeout=stack.diagnostics)
    for alert in firing:
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}
        for key, text in alert["annotations"].items():
            assert "<no value>" not in text, (key, text, alert["labels"])
            assert "error expanding" not in text, (key, text)
            assert "{{" not in text, (key, text)
        assert "instance" not in alert["labels"] or name == "OctaviaExporterTargetDown"


def _documented_promql() -> list[tuple[str, str]]:
    docs = Path(__file__).resolve().parents[2] / "docs"
    out = []
    for path in sorted(docs.glob("*.md")):
        for number, block in enumerate(
                re.findall(r"```promql\n(.*?)```", path.read_text(encoding="utf-8"), re.S)):
            out.append((f"{path.name} #{number + 1}", block))
    return out


DOCUMENTED = _documented_promql()


@pytest.mark.parametrize(("where", "expr"), DOCUMENTED, ids=[w for w, _ in DOCUMENTED])
def test_documented_promql_parses(stack: Stack, where: str, expr: str) -> None:
    # Examples about other sources (Octavia's own PROMETHEUS listener) may well be empty here;
    # they must still be valid PromQL. PromQLError is raised when Prometheus rejects them.
    stack.prom.query(expr)


def test_data_stale_says_when_a_cloud_never_polled(stack: Stack) -> None:
    # simulator-broken's API has answered 503 since the exporter started: its success
    # timestamp is 0, and the description must not claim a poll "ended 20000d ago".
    alerts = wait_until(
        lambda: [a for a in stack.prom.alerts() if a["state"] == "firing"
                 and a["labels"]["alertname"] == "OctaviaDataStale"], "OctaviaDataStale", 20.0)
    # simulator-member joins once exporter C has been gone for 5 minutes (a slow run).
    alerts = [a for a in alerts if a["labels"]["cloud"] != "simulator-member"]
    assert [a["labels"]["cloud"] for a in alerts] == ["simulator-broken"]
    assert alerts[0]["annotations"]["description"].startswith(
        "No poll of cloud simulator-broken has succeeded since its exporter started:")
