"""deploy/systemd: the unit passes `systemd-analyze verify` and `security`, and says what we
claim: sandboxed, credentials from /etc/openstack, settings the exporter accepts."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from exporter import config
from tests.deploy.podman import REPO

UNIT = REPO / "deploy" / "systemd" / "octavia-exporter.service"
DEFAULTS = REPO / "deploy" / "systemd" / "octavia-exporter.default"
EXEC = "/opt/octavia-exporter/bin/octavia-exporter"


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections of key → every value assigned (systemd allows a key more than once)."""
    sections: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    section = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        sections[section][key].append(value)
    return sections


def analyze(*args: str, unit: Path = UNIT) -> subprocess.CompletedProcess[str]:
    """systemd-analyze with the install prefix the unit names (/opt/octavia-exporter) present:
    a private mount namespace lays a tmpfs over /opt holding the suite's own entry point, so
    the unit is checked exactly as shipped and the host is untouched."""
    script = (f"mount -t tmpfs tmpfs /opt && mkdir -p {Path(EXEC).parent} && "
              f"ln -s {shlex.quote(str(Path(sys.executable).parent / 'octavia-exporter'))} "
              f"{EXEC} && exec systemd-analyze \"$@\"")
    return subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", *args, str(unit)],
                          capture_output=True, text=True, timeout=120)


def test_systemd_analyze_verify_is_clean() -> None:
    result = analyze("verify")
    assert result.returncode == 0 and result.stdout + result.stderr == "", result.stderr


def test_verify_would_catch_a_bad_setting(tmp_path: Path) -> None:
    broken = tmp_path / "octavia-exporter.service"
    broken.write_text(UNIT.read_text().replace("ProtectSystem=strict", "ProtectSystem=mostly"))
    result = analyze("verify", unit=broken)
    # A warning only (exit status 0): which is why the clean run asserts no output at all.
    assert "Failed to parse protect system value" in result.stderr


def test_exposure_is_low() -> None:
    result = analyze("security", "--offline=yes")
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for octavia-exporter.service: ([\d.]+) (\w+)",
                      result.stdout)
    assert match, result.stdout[-2000:]
    assert float(match.group(1)) <= 2.0 and match.group(2) == "OK", match.group(0)


def test_the_unit_is_sandboxed_and_reads_credentials_from_etc_openstack() -> None:
    service = parse_unit(UNIT.read_text())["Service"]

    def one(key: str) -> str:
        (value,) = service[key]
        return value

    assert one("DynamicUser") == "yes"
    assert one("NoNewPrivileges") == "yes"
    assert one("ProtectSystem") == "strict"
    assert one("ProtectHome") == "yes"
    assert one("PrivateTmp") == "yes"
    assert one("CapabilityBoundingSet") == ""
    assert one("AmbientCapabilities") == ""
    assert set(one("RestrictAddressFamilies").split()) == {"AF_INET", "AF_INET6", "AF_UNIX"}
    assert "ReadWritePaths" not in service and "StateDirectory" not in service
    # process_* metrics need /proc/stat (boot time): ProcSubset=pid would silently drop them.
    assert "ProcSubset" not in service
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    # clouds.yaml: a private copy from /etc/openstack, found by openstacksdk through the
    # credentials directory (%d).
    assert one("LoadCredential") == "clouds.yaml:/etc/openstack/clouds.yaml"
    assert "OS_CLIENT_CONFIG_FILE=%d/clouds.yaml" in service["Environment"]
    assert one("RestartPreventExitStatus") == "2"  # configuration errors exit 2
    program, *args = one("ExecStart").split()
    assert program == EXEC and args == ["$OCTAVIA_EXPORTER_ARGS"]
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert Path(program).name in scripts


def read_environment_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            (values[key],) = shlex.split(value) or [""]
    return values


@pytest.mark.parametrize("extra_env", [{}, {"OCTAVIA_EXPORTER_INTERVAL": "60"}])
def test_the_defaults_file_holds_settings_the_exporter_accepts(extra_env) -> None:
    env = read_environment_file(DEFAULTS) | extra_env
    assert env["OS_CLOUD"]
    # ExecStart's unbraced $OCTAVIA_EXPORTER_ARGS is split on whitespace, like this.
    settings = config.load(env["OCTAVIA_EXPORTER_ARGS"].split(), environ=env)
    assert settings.listen_port == config.DEFAULT_PORT
    assert settings.interval == float(extra_env.get("OCTAVIA_EXPORTER_INTERVAL", 30))
