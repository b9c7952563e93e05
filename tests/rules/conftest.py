"""Shared fixtures for the rule and dashboard tests."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path to promtool. Missing promtool fails under CI (CI set) and skips elsewhere."""
    path = shutil.which("promtool")
    if path is None:
        reason = (
            "promtool not found on PATH (Debian/Ubuntu: apt-get install prometheus; "
            "or put the promtool binary from a Prometheus release on PATH)"
        )
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI is set, so this is an error, not a skip")
        pytest.skip(reason)
    return path
