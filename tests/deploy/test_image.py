"""The container image, built from the repository's Dockerfile and run as operators run it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest

from tests.deploy.podman import REPO, Podman
from tests.support.exposition import one, parse_exposition
from tests.support.ports import free_port

UID = 10001


def inspect(podman: Podman, reference: str) -> dict:
    return json.loads(podman("image", "inspect", reference).stdout)[0]


def test_image_metadata(podman: Podman, image: str) -> None:
    metadata = inspect(podman, image)
    assert metadata["Config"]["User"] == str(UID)
    assert metadata["Config"]["Entrypoint"] == ["octavia-exporter"]
    # Built with --format docker: the OCI format has no HEALTHCHECK and would drop it.
    assert metadata["Healthcheck"]["Test"] == [
        "CMD", "octavia-exporter", "healthcheck", "--args-from-pid", "1"]
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", image).stdout
    assert "--mount=type=secret,id=pip.conf" in history  # pip's settings came as secrets...
    # ...and neither they nor the build's CA bundle were left in the image.
    # (buildah leaves the empty /run/secrets mount point behind; nothing is in it.)
    found = podman("run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c",
                   "ls -A /etc/pip.conf 2>&1; ls -A /run/secrets/; pip config list").stdout
    assert found == "ls: cannot access '/etc/pip.conf': No such file or directory\n", found


def test_a_code_change_reuses_the_dependency_layers(podman: Podman, image: str,
                                                    base_image: str, tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    for name in ("Dockerfile", ".dockerignore", "pyproject.toml", "README.md", "LICENSE",
                 "requirements.txt"):
        shutil.copy2(REPO / name, context / name)
    shutil.copytree(REPO / "exporter", context / "exporter",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with (context / "exporter" / "healthcheck.py").open("a") as handle:
        handle.write("\n# a code change\n")
    log = podman.build(context, "localhost/octavia-exporter:test-changed", base_image)
    steps = log.split("STEP ")
    install = next(step for step in steps if "--require-hashes" in step)
    assert "Using cache" in install, install
    project = next(step for step in steps if "pip install" in step and "/tmp/dist/" in step)
    assert "Using cache" not in project
    before = inspect(podman, image)["RootFS"]["Layers"]
    after = inspect(podman, "localhost/octavia-exporter:test-changed")["RootFS"]["Layers"]
    assert len(before) == len(after) and before[:-2] == after[:-2] and before[-1] != after[-1]
    podman("rmi", "localhost/octavia-exporter:test-changed")


@pytest.fixture
def web_config(tmp_path: Path) -> Path:
    """TLS and basic auth, readable by the container's user."""
    directory = tmp_path / "web"
    directory.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=octavia-exporter.example",
         "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt")],
        check=True, capture_output=True)
    hashed = bcrypt.hashpw(b"scrape-pass", bcrypt.gensalt(rounds=4)).decode()
    (directory / "web.yml").write_text(
        "tls_server_config:\n  cert_file: /etc/octavia-exporter/tls.crt\n"
        "  key_file: /etc/octavia-exporter/tls.key\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    for path in directory.iterdir():
        os.chmod(path, 0o644)
    return directory


def fetch(url: str, user: str | None = None) -> tuple[int, str]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(url)
    if user:
        request.add_header("Authorization",
                           "Basic " + base64.b64encode(user.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@pytest.fixture
def container(podman: Podman, image: str, simulator: tuple[Path, str],
              web_config: Path) -> Iterator[tuple[str, int]]:
    clouds, _ = simulator
    port = free_port()
    name = f"octavia-exporter-test-{port}"
    podman("run", "--detach", "--name", name, "--network", "host", "--read-only",
           "--user", str(UID),
           "--volume", f"{clouds}:/etc/openstack/clouds.yaml:ro",
           "--volume", f"{web_config}:/etc/octavia-exporter:ro",
           "--env", "OS_CLOUD=simulator", image,
           "--web.listen-address", f"127.0.0.1:{port}",
           "--web.config.file", "/etc/octavia-exporter/web.yml", "--interval", "5")
    try:
        yield name, port
    finally:
        podman("rm", "--force", "--time", "0", name, check=False)


def wait_ready(url: str, name: str, podman: Podman) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if fetch(url)[0] == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            logs = podman("logs", name, check=False)
            raise AssertionError(f"{url} never answered 200:\n{logs.stdout}{logs.stderr}")
        time.sleep(0.2)


def test_the_container_serves_the_cloud_as_configured(podman: Podman,
                                                      container: tuple[str, int]) -> None:
    name, port = container
    base = f"https://127.0.0.1:{port}"
    wait_ready(base + "/readyz", name, podman)

    assert fetch(base + "/healthz") == (200, "ok\n")
    assert fetch(base + "/metrics")[0] == 401
    status, body = fetch(base + "/metrics", user="prometheus:scrape-pass")
    assert status == 200
    samples = parse_exposition(body)
    assert one(samples, "octavia_up", cloud="simulator") == 1
    assert len(samples["octavia_loadbalancer_provisioning_status"]) == 8
    assert (one(samples, "process_resident_memory_bytes") or 0) > 0  # /proc readable as uid 10001

    # Not root, and nothing of the image can be written.
    status_lines = podman("exec", name, "cat", "/proc/1/status").stdout
    uids = next(line for line in status_lines.splitlines() if line.startswith("Uid:"))
    assert uids.split()[1:] == [str(UID)] * 4
    write = podman("exec", name, "touch", "/opt/octavia-exporter/probe", check=False)
    assert write.returncode != 0 and "Read-only file system" in write.stderr

    # The image's HEALTHCHECK follows the port and TLS of this container's command line.
    assert podman("healthcheck", "run", name, check=False).returncode == 0
    state = json.loads(podman("container", "inspect", name).stdout)[0]["State"]
    assert state["Health"]["Status"] == "healthy"
    assert f"https://127.0.0.1:{port}/healthz: 200" in state["Health"]["Log"][-1]["Output"]

    # A hung exporter is unhealthy; the same process, resumed, is healthy again.
    pid = state["Pid"]
    os.kill(pid, signal.SIGSTOP)
    try:
        failed = podman("healthcheck", "run", name, check=False, timeout=60)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert podman("healthcheck", "run", name, check=False).returncode == 0

    # SIGTERM (what `podman stop` sends) ends it cleanly within seconds.
    started = time.monotonic()
    podman("stop", "--time", "30", name)
    elapsed = time.monotonic() - started
    state = json.loads(podman("container", "inspect", name).stdout)[0]["State"]
    assert state["ExitCode"] == 0, state
    assert elapsed < 5, f"podman stop took {elapsed:.1f} s"
    assert '"event": "shutting_down"' in podman("logs", name).stderr
    # And a stopped exporter is never reported healthy.
    assert podman("healthcheck", "run", name, check=False).returncode != 0
