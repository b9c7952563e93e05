"""promtool on the shipped rule files and on the unit tests in tests/rules/*.test.yml."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.rules.rulefiles import PROMTOOL_TESTS, RULE_FILES


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_there_are_rule_files_and_tests() -> None:
    assert [p.name for p in RULE_FILES] == [
        "octavia-alerts.rules.yml",
        "octavia-recording.rules.yml",
    ]
    assert PROMTOOL_TESTS


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.name)
def test_promtool_check_rules(promtool: str, path: Path) -> None:
    result = _run([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


# The slow-burn SLO file evaluates days of samples: seconds of promtool, the rest well under one.
@pytest.mark.parametrize("path", [
    pytest.param(p, marks=pytest.mark.slow) if p.name == "availability_slo_slow.test.yml" else p
    for p in PROMTOOL_TESTS], ids=lambda p: p.name)
def test_promtool_test_rules(promtool: str, path: Path) -> None:
    result = _run([promtool, "test", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
