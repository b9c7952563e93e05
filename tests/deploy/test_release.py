"""The release artefacts: an sdist, a wheel built from that sdist, both accepted by twine, and
metadata that says what the project says (version, SPDX license, URLs, the runbooks' home)."""

from __future__ import annotations

import email
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from exporter import __version__
from tests.deploy.podman import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
HOME = PYPROJECT["project"]["urls"]["Homepage"]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # No --sdist/--wheel: build makes the sdist, then the wheel from the unpacked sdist, so a
    # file missing from the sdist breaks the wheel here rather than for a user.
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(REPO)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_twine_accepts_both(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    assert sorted(Path(f).suffix for f in files) == [".gz", ".whl"]
    result = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *files],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("PASSED") == 2


def test_wheel_metadata(dist: Path) -> None:
    (wheel,) = dist.glob("*.whl")
    assert wheel.name.startswith(f"octavia_exporter-{__version__}-py3-none-any")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = f"octavia_exporter-{__version__}.dist-info"
        metadata = email.message_from_bytes(archive.read(f"{info}/METADATA"))
        license_text = archive.read(f"{info}/licenses/LICENSE").decode()
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert metadata["Version"] == __version__
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert urls["Homepage"] == HOME and set(urls) >= {"Changelog", "Issues", "Runbooks"}
    assert "octavia-exporter = exporter.cli:main" in entry_points
    assert "exporter/web/healthcheck.py" in names and "exporter/py.typed" in names
    assert not [n for n in names if n.startswith("tests/")]


def test_sdist_carries_the_license_and_the_sources(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert {"LICENSE", "README.md", "pyproject.toml", "exporter/cli.py"} <= names


def test_the_image_lock_pins_every_runtime_dependency() -> None:
    """requirements.txt (what the image installs) must satisfy pyproject's dependencies; the
    image build's `pip check` catches a missing transitive one."""
    pinned = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^ \\;]+)", line)
        if match:
            pinned[canonicalize_name(match.group(1))] = Version(match.group(2))
    for text in PYPROJECT["project"]["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{name} is missing from requirements.txt: re-export it " \
            "(docs/releasing.md, step 3)"
        assert pinned[name] in requirement.specifier, (
            f"requirements.txt pins {name}=={pinned[name]}, outside {requirement}")


def test_every_runbook_url_is_under_the_stated_home() -> None:
    runbooks = (REPO / "docs" / "runbooks.md").read_text()
    anchors = {line[3:].strip().lower() for line in runbooks.splitlines()
               if line.startswith("## ")}
    rule_files = [REPO / "alerts" / "octavia-alerts.rules.yml",
                  REPO / "alerts" / "prometheusrule.yaml"]
    seen = 0
    for path in rule_files:
        data = yaml.safe_load(path.read_text())
        groups = data["spec"]["groups"] if "spec" in data else data["groups"]
        for group in groups:
            for rule in group["rules"]:
                if "alert" not in rule:
                    continue
                url = rule["annotations"]["runbook_url"]
                page, _, anchor = url.partition("#")
                assert page == f"{HOME}/blob/main/docs/runbooks.md", url
                assert anchor in anchors, url
                seen += 1
    assert seen > 0
    assert PYPROJECT["project"]["urls"]["Runbooks"] == f"{HOME}/blob/main/docs/runbooks.md"
    assert HOME in (REPO / "README.md").read_text()


def test_changelog_starts_with_unreleased_and_has_this_version() -> None:
    text = (REPO / "CHANGELOG.md").read_text()
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == "## [Unreleased]"
    assert any(h.startswith(f"## [{__version__}] - ") for h in headings)
    assert "keepachangelog.com" in text and "semver.org" in text
