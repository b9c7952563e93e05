"""What the end-to-end tests share: the running stack they get from tests/e2e/conftest.py, the
rule files it loads, and the template values Grafana would substitute."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.harness import Processes, PrometheusAPI, Webhook, wait_until
from tests.e2e.scenario import Scenario
from tests.rules.promql_inventory import ALERTS_DIR, all_expressions

SHORT_FOR = "1s"
RECORDING_RULES = ALERTS_DIR / "octavia-recording.rules.yml"
ALERTING_RULES = ALERTS_DIR / "octavia-alerts.rules.yml"

# Grafana's $__rate_interval is max(4 * scrape interval, $__interval + scrape interval): with the
# 1 s scrape interval of this Prometheus, a few seconds. 30 s keeps a margin and still has data
# seconds after start-up. ($__range, $__interval_ms … keep their defaults.)
E2E_VALUES = {"__rate_interval": "30s", "__interval": "5s"}
LB_BOARD = "octavia-loadbalancer.json"


@dataclass
class Binaries:
    prometheus: str
    alertmanager: str


@dataclass
class Stack:
    work: Path
    procs: Processes
    sim_url: str
    scenario: Scenario
    prom: PrometheusAPI
    alertmanager_url: str
    webhook: Webhook
    exporters: dict[str, str]  # name -> host:port (the target's instance label)
    alert_rules_copy: Path
    recording_rules_copy: Path
    # A moment before Prometheus was started: no sample of anything exists at or before it.
    before_any_data: float
    timings: dict[str, float] = field(default_factory=dict)

    def diagnostics(self) -> str:
        return self.procs.logs()


def query_nonempty(stack: Stack, expr: str, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The result of `expr`, polled until it is not empty; fails at once if it does not parse."""
    def probe() -> list[dict[str, Any]]:
        stack.procs.check_alive()  # a crashed exporter fails every test at once, not slowly
        return stack.prom.query(expr)

    return wait_until(probe, f"a non-empty result for {expr}", timeout,
                      on_timeout=stack.diagnostics)


def expression(where: str, **values: str) -> str:
    """The shipped expression at `where` (tests/rules/promql_inventory.py), with E2E_VALUES and
    `values` substituted."""
    found = dict(all_expressions({**E2E_VALUES, **values}))
    return found[where]
