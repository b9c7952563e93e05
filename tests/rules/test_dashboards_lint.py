"""Lint of dashboards/*.json: importable, and every panel and query follows the conventions."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests.rules import promql_inventory, promql_lint
from tests.rules.rulefiles import recording_rules

DASHBOARDS_DIR = promql_inventory.DASHBOARDS_DIR
FILES = sorted(DASHBOARDS_DIR.glob("*.json"))
EXPECTED = {name: name.removesuffix(".json") for name in (
    "octavia-fleet.json", "octavia-loadbalancer.json", "octavia-amphorae.json",
    "octavia-exporter.json", "octavia-capacity.json", "octavia-availability.json",
    "octavia-dataplane.json")}
# The exporter's own series have no project: a Project variable there would filter nothing.
WITHOUT_PROJECT = {"octavia-exporter.json"}
DS_UID = "${datasource}"
BUILTINS = set(promql_inventory.BUILTIN_VALUES)


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _data_panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in promql_inventory._panels(board["panels"]) if p.get("type") != "row"]


def _variables(board: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in board["templating"]["list"]}


def _builder() -> ModuleType:
    path = DASHBOARDS_DIR / "build_dashboards.py"
    spec = importlib.util.spec_from_file_location("build_dashboards", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_expected_dashboards_exist() -> None:
    assert [p.name for p in FILES] == sorted(EXPECTED)


def test_committed_dashboards_are_the_generated_ones() -> None:
    for name, text in _builder().generate().items():
        committed = (DASHBOARDS_DIR / name).read_text(encoding="utf-8")
        assert committed == text, f"{name} is stale: run python dashboards/build_dashboards.py"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboard_top_level(path: Path) -> None:
    board = _load(path)
    assert board["uid"] == EXPECTED[path.name]
    assert board["title"]
    assert board["editable"] is False
    assert board["schemaVersion"] >= 36  # Grafana 9/10+ JSON model
    assert "id" not in board or board["id"] is None, "an id makes import clash; use uid"
    ids = [p["id"] for p in promql_inventory._panels(board["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_dashboard_variables(path: Path) -> None:
    variables = _variables(_load(path))
    ds = variables["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    for name in ("cloud",) if path.name in WITHOUT_PROJECT else ("cloud", "project"):
        var = variables[name]
        assert var["type"] == "query", name
        assert var["datasource"]["uid"] == DS_UID, name
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"] == {"type": "prometheus", "uid": DS_UID}, var["name"]
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            assert promql_inventory.variable_query_to_promql(query), var["name"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_panel_has_datasource_unit_and_description(path: Path) -> None:
    for panel in _data_panels(_load(path)):
        title = panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": DS_UID}, title
        assert panel.get("description", "").strip(), f"{title}: description"
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{title}: unit"
        assert panel["targets"], f"{title}: no targets"
        for tgt in panel["targets"]:
            assert tgt["datasource"] == {"type": "prometheus", "uid": DS_UID}, title
            assert tgt.get("expr", "").strip(), title


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_query_follows_the_promql_conventions(path: Path) -> None:
    problems = []
    for where, expr in promql_inventory.dashboard_expressions(raw=True):
        if not where.startswith(path.name):
            continue
        for problem in promql_lint.lint(expr, window="$__rate_interval"):
            problems.append(f"{where}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_variables_are_defined_and_used_as_regex_matchers(path: Path) -> None:
    board = _load(path)
    defined = set(_variables(board))
    for where, expr in promql_inventory.dashboard_expressions(raw=True):
        if not where.startswith(path.name):
            continue
        for match in re.finditer(r"\$\{?([A-Za-z_]\w*)", expr):
            name = match.group(1)
            if name in BUILTINS:
                continue
            assert name in defined, f"{where}: ${name} is not a dashboard variable"
            before = expr[: match.start()]
            # Multi-value and "All" (.*) only work with =~, so that is the only allowed form.
            assert before.endswith('=~"'), f"{where}: ${name} must be used as label=~\"${name}\""


def test_recording_rule_series_used_by_dashboards_exist() -> None:
    recorded = {rule["record"] for rule in recording_rules()}
    for where, expr in promql_inventory.dashboard_expressions():
        missing = promql_inventory.recording_rule_inputs(expr) - recorded
        assert not missing, f"{where}: reads {missing}, which no recording rule produces"


def test_inventory_substitutes_every_variable() -> None:
    expressions = promql_inventory.all_expressions()
    assert len(expressions) > 60
    for where, expr in expressions:
        assert not promql_inventory.leftover_variables(expr), where


def test_substitute() -> None:
    sub = promql_inventory.substitute
    assert sub('rate(x{a=~"$cloud"}[$__rate_interval])') == 'rate(x{a=~".*"}[5m])'
    assert sub('x{a=~"${project:regex}",b=~"[[lb]]"}') == 'x{a=~".*",b=~".*"}'
    assert sub('x{a=~"$cloud"}', {"cloud": "prod"}) == 'x{a=~"prod"}'
    # label_replace's $1 is no Grafana variable.
    assert sub('label_replace(x, "a_id", "$1", "a", "(.+)")') == \
        'label_replace(x, "a_id", "$1", "a", "(.+)")'
    assert promql_inventory.variable_query_to_promql(
        'label_values(octavia_up{cloud=~"$cloud"}, project_id)'
    ) == 'octavia_up{cloud=~"$cloud"}'


def test_every_inventory_expression_parses(promtool: str, tmp_path: Path) -> None:
    # promtool has no "parse this expression" command, but it parses every rule it checks:
    # wrap each expression in a recording rule.
    rules = [
        {"record": f"inventory:expression_{i}:check", "expr": expr}
        for i, (_, expr) in enumerate(promql_inventory.all_expressions())
    ]
    path = tmp_path / "inventory.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "inventory", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    where = {f"inventory:expression_{i}:check": w
             for i, (w, _) in enumerate(promql_inventory.all_expressions())}
    assert result.returncode == 0, result.stdout + result.stderr + "\n" + json.dumps(where, indent=1)


def test_docs_describe_every_panel() -> None:
    docs = (promql_inventory.REPO / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for path in FILES:
        board = _load(path)
        assert f"`{board['uid']}`" in docs, board["uid"]
        for panel in promql_inventory._panels(board["panels"]):
            title = panel["title"]
            assert title in docs, f"docs/dashboards.md does not describe {path.name}: {title!r}"
