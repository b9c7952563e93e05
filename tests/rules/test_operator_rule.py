"""alerts/prometheusrule.yaml is generated from the rule files and must not drift from them."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import yaml

from tests.rules.rulefiles import ALERTS_DIR, load_yaml


def _builder() -> ModuleType:
    path = ALERTS_DIR / "build_operator_rule.py"
    spec = importlib.util.spec_from_file_location("build_operator_rule", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_manifest_is_the_generated_one() -> None:
    committed = (ALERTS_DIR / "prometheusrule.yaml").read_text(encoding="utf-8")
    assert committed == _builder().generate(), (
        "alerts/prometheusrule.yaml is stale: run python alerts/build_operator_rule.py"
    )


def test_manifest_carries_every_rule_unchanged() -> None:
    manifest = load_yaml(ALERTS_DIR / "prometheusrule.yaml")
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1"
    assert manifest["kind"] == "PrometheusRule"
    assert manifest["metadata"]["name"]
    sources = [
        group
        for name in ("octavia-recording.rules.yml", "octavia-alerts.rules.yml")
        for group in load_yaml(ALERTS_DIR / name)["groups"]
    ]
    assert manifest["spec"]["groups"] == sources


def test_manifest_groups_pass_promtool(promtool: str, tmp_path: Path) -> None:
    manifest = load_yaml(ALERTS_DIR / "prometheusrule.yaml")
    rules = tmp_path / "from-manifest.rules.yml"
    rules.write_text(yaml.safe_dump({"groups": manifest["spec"]["groups"]}), encoding="utf-8")
    result = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
