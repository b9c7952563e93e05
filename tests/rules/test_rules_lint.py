"""Conventions of alerts/*.rules.yml that promtool does not check (see docs/runbooks.md)."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import pytest

from tests.rules import promql_lint
from tests.rules.rulefiles import (
    PROMTOOL_TESTS,
    RUNBOOK_BASE,
    alerting_rules,
    all_rules,
    load_yaml,
    recording_rules,
    runbook_anchors,
)

ALERTS = alerting_rules()
ALERT_NAMES = sorted({rule["alert"] for rule in ALERTS})
SEVERITIES = {"critical", "warning", "info"}


def _promtool_cases() -> tuple[dict[str, int], dict[str, int], list[dict[str, Any]]]:
    firing: dict[str, int] = defaultdict(int)
    silent: dict[str, int] = defaultdict(int)
    expected_alerts: list[dict[str, Any]] = []
    for path in PROMTOOL_TESTS:
        for test in load_yaml(path).get("tests", []):
            for case in test.get("alert_rule_test", []):
                alerts = case.get("exp_alerts") or []
                if alerts:
                    firing[case["alertname"]] += 1
                    expected_alerts.extend({"alertname": case["alertname"], **a} for a in alerts)
                else:
                    silent[case["alertname"]] += 1
    return firing, silent, expected_alerts


FIRING, SILENT, EXPECTED_ALERTS = _promtool_cases()


def test_there_are_alerts() -> None:
    assert len(ALERT_NAMES) >= 15


@pytest.mark.parametrize("name", ALERT_NAMES)
def test_every_alert_has_a_firing_and_a_silent_case(name: str) -> None:
    assert FIRING.get(name), f"{name}: no promtool case where it fires"
    assert SILENT.get(name), f"{name}: no promtool case where it does not fire"


def test_promtool_cases_only_name_real_alerts() -> None:
    unknown = (set(FIRING) | set(SILENT)) - set(ALERT_NAMES)
    assert not unknown, f"promtool cases for alerts that do not exist: {sorted(unknown)}"


def test_expected_alerts_spell_out_labels_and_annotations() -> None:
    for alert in EXPECTED_ALERTS:
        where = f"{alert['alertname']} {alert.get('exp_labels')}"
        assert alert.get("exp_labels", {}).get("severity") in SEVERITIES, where
        assert set(alert.get("exp_annotations", {})) == {
            "summary",
            "description",
            "runbook_url",
        }, where


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: f"{r['alert']}-{r['labels']['severity']}")
def test_alert_conventions(rule: dict[str, Any]) -> None:
    name = rule["alert"]
    assert re.fullmatch(r"Octavia[A-Z][A-Za-z0-9]+", name), name
    assert rule.get("labels", {}).get("severity") in SEVERITIES
    annotations = rule.get("annotations", {})
    assert annotations.get("summary"), "summary missing"
    if not rule["expr"].startswith("absent("):  # absent() has no labels to name anything
        assert "{{" in annotations.get("description", ""), "description must be templated"
    assert "{{" not in annotations["summary"], "summary is static; details go in description"
    url = annotations.get("runbook_url", "")
    assert url.startswith(RUNBOOK_BASE), url
    assert url[len(RUNBOOK_BASE):] == name.lower(), "anchor is the lower-cased alert name"
    assert rule.get("for"), "every alert waits with for:"


def test_runbook_anchors_exist() -> None:
    anchors = runbook_anchors()
    missing = sorted(
        {rule["annotations"]["runbook_url"].split("#", 1)[1] for rule in ALERTS} - anchors
    )
    assert not missing, f"docs/runbooks.md has no heading for: {missing}"


def test_objects_alerts_are_named() -> None:
    # Alerts about one object join its *_info series so the description can name it.
    for rule in ALERTS:
        expr = rule["expr"]
        # Raw object series only: recording-rule names (cloud:octavia_loadbalancer_…:…) hold
        # aggregates, not one object to name.
        if re.search(r"(?<![:\w])octavia_(loadbalancer|listener|pool|member|healthmonitor)_",
                     expr):
            assert "_info" in expr and "group_left" in expr, rule["alert"]


@pytest.mark.parametrize("rule", recording_rules(), ids=lambda r: r["record"])
def test_recording_rule_names(rule: dict[str, Any]) -> None:
    level, metric, operations = rule["record"].split(":")
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", level)
    assert metric.startswith("octavia_")
    assert re.fullmatch(r"[a-z0-9_]+", operations)


@pytest.mark.parametrize(
    "item", all_rules(), ids=lambda i: i[2].get("alert") or i[2].get("record")
)
def test_rule_expressions_follow_the_promql_conventions(item: tuple[Any, str, dict[str, Any]]) -> None:
    _, _, rule = item
    assert promql_lint.lint(rule["expr"]) == []


def test_no_rule_keeps_target_labels() -> None:
    # Two replicas differ by instance/pod: object alerts aggregate them away with max by (...).
    for rule in ALERTS:
        if rule["alert"] == "OctaviaExporterTargetDown":
            continue  # about one scrape target: instance is the point
        assert "instance" not in rule["expr"], rule["alert"]
