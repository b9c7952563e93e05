"""The data-plane scrape job docs/operations.md ships: valid for promtool, pointed at the
exporter's discovery endpoint, and not a job the exporter's own alerts select."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml

from exporter.web import discovery
from tests.deploy.podman import REPO
from tests.support.tools import require_binary

DOCS = REPO / "docs" / "operations.md"


def scrape_job() -> dict[str, object]:
    text = DOCS.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", text, re.S)
              if "http_sd_configs" in b]
    assert len(blocks) == 1, blocks
    config: dict[str, object] = yaml.safe_load(blocks[0])
    return config


def test_promtool_accepts_the_documented_job(tmp_path: Path) -> None:
    promtool = require_binary("promtool", install="Debian/Ubuntu: apt-get install prometheus")
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(scrape_job()), encoding="utf-8")
    result = subprocess.run([promtool, "check", "config", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_job_reads_the_discovery_endpoint_and_is_not_the_exporters() -> None:
    (job,) = scrape_job()["scrape_configs"]  # type: ignore[misc]
    # OctaviaExporterTargetDown selects job=~"octavia-exporter.*".
    assert not job["job_name"].startswith("octavia-exporter")
    (sd,) = job["http_sd_configs"]
    assert discovery.PATH + "?" in sd["url"]
