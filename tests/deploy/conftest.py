from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.deploy.podman import REPO, Podman

IMAGE = "localhost/octavia-exporter:test"


@pytest.fixture(scope="session")
def podman() -> Podman:
    return Podman()


@pytest.fixture(scope="session")
def base_image(podman: Podman) -> str:
    return podman.base_image()


@pytest.fixture(scope="session")
def image(podman: Podman, base_image: str) -> str:
    """The repository's own Dockerfile, built as it is."""
    podman.build(REPO, IMAGE, base_image)
    return IMAGE


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A simulated Keystone + Octavia on 127.0.0.1 in its own process: (clouds.yaml, auth_url)."""
    clouds = tmp_path / "clouds.yaml"
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter.simulator.cli", "--lbs", "8", "--port", "0",
         "--write-clouds-yaml", str(clouds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not clouds.exists() or not clouds.stat().st_size:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "the simulator never wrote its clouds.yaml"
            time.sleep(0.05)
        # The container's user (uid 10001) must be able to read the mounted file; a Kubernetes
        # Secret gets the same through defaultMode/fsGroup.
        os.chmod(clouds, 0o644)
        auth_url = yaml.safe_load(clouds.read_text())["clouds"]["simulator"]["auth"]["auth_url"]
        yield clouds, auth_url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
