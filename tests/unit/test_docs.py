"""The docs are part of the interface: every setting and every metric must be documented."""

import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporter.config import OPTIONS, env_name
from exporter.telemetry import Telemetry
from tests.support.exposition import render
from tests.support.snapshots import snapshot, view

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for option in OPTIONS:
        assert f"`{option.flag}" in readme, option.flag
        assert f"`{env_name(option)}`" in readme, env_name(option)
        assert f"`{option.key}`" in readme, option.key


def test_every_exported_metric_is_in_docs_metrics() -> None:
    docs = (ROOT / "docs" / "metrics.md").read_text()
    documented = set(re.findall(r"`(octavia_[a-z0-9_]+)`", docs))
    # Rows such as "`octavia_listener_stats_bytes_in_total`, `_stats_bytes_out_total`" name
    # siblings by the suffix after octavia_<kind>.
    for row in docs.splitlines():
        names = re.findall(r"`(octavia_[a-z0-9]+)_[a-z0-9_]+`", row)
        for suffix in re.findall(r"`(_[a-z_]+)`", row):
            documented.update(f"{prefix}{suffix}" for prefix in names)
    text = render([view(snapshot())]) + generate_latest(Telemetry().registry).decode()
    exported = set()
    for family in text_string_to_metric_families(text):
        if family.name.startswith("octavia_"):
            exported.add(family.name + ("_total" if family.type == "counter" else ""))
    missing = sorted(name for name in exported if name not in documented)
    assert not missing, f"undocumented metrics: {missing}"
