"""Shared fixtures for the rule and dashboard tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tools import require_binary

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path to promtool (tests/support/tools.py: missing, it fails under the strict mode)."""
    return require_binary("promtool", install="Debian/Ubuntu: apt-get install prometheus; or "
                                              "put the promtool binary of a Prometheus release "
                                              "on PATH")
