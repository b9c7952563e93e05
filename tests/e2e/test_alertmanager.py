"""Alertmanager end to end: simulator → exporters → Prometheus → Alertmanager → webhook.

A load balancer goes to operating ERROR through the simulator's control API; the webhook must
receive OctaviaLoadBalancerOperatingError with the shipped labels and annotations, rendered
for that load balancer, naming its floating IP (looked up by the description's template with
`query` at evaluation time); back to ONLINE, it must receive the resolved notification.

Why the rules Prometheus loads here are a copy: the shipped alert waits `for: 5m` and then
`keep_firing_for: 5m` (so one missed scrape does not resolve it). Honouring those would make
this test take over ten minutes. The copy (conftest.short_for_copy) sets both to a second and
changes nothing else; test_the_rule_copy_only_shortens_durations proves that.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.e2e.harness import wait_until
from tests.e2e.scenario import ALERT_LB_NAME
from tests.support.e2e import ALERTING_RULES, SHORT_FOR, Stack

ALERT = "OctaviaLoadBalancerOperatingError"
NOTIFY_TIMEOUT = 45.0


def _shipped_rule(name: str) -> dict[str, Any]:
    for group in yaml.safe_load(ALERTING_RULES.read_text(encoding="utf-8"))["groups"]:
        for rule in group["rules"]:
            if rule.get("alert") == name:
                return dict(rule)
    raise KeyError(name)


# The floating IP part of the load balancer alerts' descriptions, as it reads once YAML has
# folded it (`{{- ` trims the space the fold leaves before it).
FLOATING_IPS_TEMPLATE = (
    '{{- with printf "max by (floating_ip_address) (octavia_loadbalancer_floating_ip_info'
    '{cloud=%q,loadbalancer_id=%q})" $labels.cloud $labels.loadbalancer_id | query | '
    'sortByLabel "floating_ip_address" }}, floating IP{{ if gt (len .) 1 }}s{{ end }} '
    "{{ range $i, $f := . }}{{ if $i }}, {{ end }}{{ $f.Labels.floating_ip_address }}"
    "{{ end }}{{ end }}"
)


def render(template: str, labels: dict[str, str], floating_ips: list[str]) -> str:
    """The Go-template forms our annotations use, rendered as Prometheus renders them, with
    `floating_ips` the addresses the floating IP query finds."""
    addresses = sorted(floating_ips)
    fips = (f", floating IP{'s' if len(addresses) > 1 else ''} {', '.join(addresses)}"
            if addresses else "")
    text = re.sub(r"\s*" + re.escape(FLOATING_IPS_TEMPLATE), lambda _: fips, template)
    text = re.sub(r"\{\{ with \$labels\.(\w+) \}\}\{\{ \. \}\} \{\{ end \}\}",
                  lambda m: f"{labels[m[1]]} " if labels.get(m[1]) else "", text)
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m[1]], text)
    assert "{{" not in text, f"the test cannot render: {text}"
    return text


def _notifications(stack: Stack, status: str, lb_id: str) -> list[dict[str, Any]]:
    """Alerts of notifications with `status` that concern our alert and load balancer."""
    found = []
    for notification in stack.webhook.notifications():
        for alert in notification.get("alerts", []):
            labels = alert.get("labels", {})
            if (labels.get("alertname") == ALERT and labels.get("loadbalancer_id") == lb_id
                    and alert.get("status") == status):
                found.append({"notification": notification, "alert": alert})
    return found


def test_the_rule_copy_only_shortens_durations(stack: Stack) -> None:
    shipped = yaml.safe_load(ALERTING_RULES.read_text(encoding="utf-8"))
    copy = yaml.safe_load(stack.alert_rules_copy.read_text(encoding="utf-8"))
    assert [g["name"] for g in copy["groups"]] == [g["name"] for g in shipped["groups"]]
    for ours, theirs in zip(copy["groups"], shipped["groups"], strict=True):
        assert len(ours["rules"]) == len(theirs["rules"])
        for short, original in zip(ours["rules"], theirs["rules"], strict=True):
            assert short["for"] == SHORT_FOR
            assert short.get("keep_firing_for", SHORT_FOR) == SHORT_FOR
            assert ("keep_firing_for" in short) == ("keep_firing_for" in original)
            drop = {"for", "keep_firing_for"}
            assert {k: v for k, v in short.items() if k not in drop} == {
                k: v for k, v in original.items() if k not in drop}


def test_operating_error_is_notified_and_resolved(stack: Stack) -> None:
    tree = stack.scenario.trees["alert"]
    rule = _shipped_rule(ALERT)
    assert not _notifications(stack, "firing", tree.loadbalancer), "fired before the change"

    stack.scenario.set_lb("alert", operating_status="ERROR")
    try:
        firing = wait_until(lambda: _notifications(stack, "firing", tree.loadbalancer),
                            f"a firing {ALERT} notification", NOTIFY_TIMEOUT,
                            on_timeout=stack.diagnostics)
        alert = firing[0]["alert"]
        expected_labels = {
            "alertname": ALERT,
            "cloud": "simulator",
            "loadbalancer_id": tree.loadbalancer,
            "project_id": tree.project_id,
            "name": ALERT_LB_NAME,
            **rule["labels"],
        }
        assert expected_labels["severity"] == "critical"
        # Exactly these: two exporter replicas scrape this cloud, and no target label
        # (instance, job) survives to split the alert in two.
        assert alert["labels"] == expected_labels
        fips = list(tree.floating_ips)
        assert fips, "the scenario gives this load balancer a floating IP"
        assert alert["annotations"] == {
            key: render(text, expected_labels, fips)
            for key, text in rule["annotations"].items()}
        assert ALERT_LB_NAME in alert["annotations"]["description"]
        assert f"({tree.loadbalancer}, floating IP {fips[0]})" in alert["annotations"][
            "description"]
        assert alert["annotations"]["runbook_url"].endswith("#octavialoadbalanceroperatingerror")
        notification = firing[0]["notification"]
        assert notification["receiver"] == "e2e-webhook"
        assert len(notification["alerts"]) == 1
        # One alert for one load balancer, however many replicas: no second notification with
        # other labels for the same load balancer.
        assert {frozenset(f["alert"]["labels"].items()) for f in firing} == {
            frozenset(expected_labels.items())}
    finally:
        stack.scenario.set_lb("alert", operating_status="ONLINE")

    resolved = wait_until(lambda: _notifications(stack, "resolved", tree.loadbalancer),
                          f"a resolved {ALERT} notification", NOTIFY_TIMEOUT,
                          on_timeout=stack.diagnostics)
    alert = resolved[0]["alert"]
    assert alert["labels"] == expected_labels
    assert alert["endsAt"] > alert["startsAt"]
    assert resolved[0]["notification"]["status"] == "resolved"
