"""Rootful podman with a private configuration, and a Debian base image made here.

No container registry is reachable from the machines this suite runs on, so the Dockerfile's
`FROM` is satisfied by a base built locally from Debian packages (mmdebstrap → podman import),
passed as the BASE_IMAGE build argument. Everything podman keeps (configuration, image storage,
runtime state) is private to the suite: the host's containers.conf, storage.conf and images are
never read or changed. Image storage lives under .cache/ in the repository so the base and the
dependency layers survive between runs.
"""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("OCTAVIA_EXPORTER_PODMAN_CACHE", REPO / ".cache" / "podman"))
SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# What mmdebstrap reads its mirror from: the host's own apt sources, so the base is made from the
# same archive the test command installs podman from.
APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# runc rejects an nproc above this in containers on these hosts even where the shell's hard
# limit is higher; the exporter runs a handful of threads.
NPROC = 4096


class Podman:
    def __init__(self, root: Path = CACHE) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        # Runtime state belongs on a short local path: conmon's socket paths have a length
        # limit that a deep repository checkout would exceed.
        digest = hashlib.sha256(str(root).encode()).hexdigest()[:10]
        self.run_root = Path(tempfile.gettempdir()) / f"octavia-exporter-podman-{digest}"
        self.env = {**os.environ, **self._write_config()}

    def _write_config(self) -> dict[str, str]:
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
        nproc = NPROC if nproc == resource.RLIM_INFINITY else min(nproc, NPROC)
        containers_conf = self.root / "containers.conf"
        containers_conf.write_text(
            "[containers]\n"
            # Podman's defaults exceed the hard limits of these hosts, and root cannot raise
            # them here: runc then fails to start any container.
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            "[engine]\n"
            # crun fails on hybrid cgroup hosts like these; runc works.
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{self.run_root}/events.log"\n'
            f'tmp_dir = "{self.run_root}/libpod"\n'
            "[network]\n"
            f'network_config_dir = "{self.root}/networks"\n')
        storage_conf = self.root / "storage.conf"
        storage_conf.write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{self.root}/storage"\n'
            f'runroot = "{self.run_root}/storage"\n')
        return {"CONTAINERS_CONF": str(containers_conf),
                "CONTAINERS_STORAGE_CONF": str(storage_conf)}

    def __call__(self, *args: str, check: bool = True, timeout: float = 300,
                 input: str | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout, input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
        return result

    def image_exists(self, reference: str) -> bool:
        return self("image", "exists", reference, check=False).returncode == 0

    def base_image(self) -> str:
        """A minimal Debian with python3 and venv, made once per package list and kept."""
        key = hashlib.sha256("\n".join(
            (SUITE, *BASE_PACKAGES, APT_SOURCES.read_text())).encode()).hexdigest()[:12]
        reference = f"localhost/octavia-exporter-test-base:{SUITE}-{key}"
        if self.image_exists(reference):
            return reference
        with tempfile.TemporaryDirectory(dir=self.root) as tmp:
            tarball = Path(tmp) / "base.tar"
            subprocess.run(
                ["mmdebstrap", "--quiet", "--variant=minbase", "--mode=root", "--format=tar",
                 f"--include={','.join(BASE_PACKAGES)}",
                 # Documentation and translations are dead weight in an image.
                 "--dpkgopt=path-exclude=/usr/share/doc/*",
                 "--dpkgopt=path-exclude=/usr/share/man/*",
                 "--dpkgopt=path-exclude=/usr/share/locale/*",
                 SUITE, str(tarball), str(APT_SOURCES)],
                check=True, capture_output=True, text=True, timeout=600)
            self("import", "--change", 'CMD ["/bin/bash"]', str(tarball), reference)
        return reference

    def build(self, context: Path, tag: str, base: str, extra: Sequence[str] = ()) -> str:
        """Build the Dockerfile in `context`; returns the build log.

        pip inside the build gets the host's CA bundle and index settings as build secrets
        (mounted while pip runs, never stored in a layer), as an operator behind a proxy would.
        """
        with tempfile.TemporaryDirectory() as tmp:
            pip_conf = Path(tmp) / "pip.conf"
            pip_conf.write_text(host_pip_conf())
            result = self(
                "build", "--format", "docker", "--pull=never", "--network", "host",
                "--build-arg", f"BASE_IMAGE={base}",
                "--secret", f"id=pip.conf,src={pip_conf}",
                "--secret", f"id=pip-cert,src={HOST_CA}",
                "--tag", tag, *extra, str(context), timeout=900)
        return result.stdout + result.stderr


def host_pip_conf() -> str:
    """The host's index settings for pip in the build, with the host CA bundle as the trust
    store; local paths (find-links, constraints) mean nothing inside the build and are left out."""
    lines = ["[global]", "cert = /run/secrets/pip-cert"]
    for key in ("index-url", "extra-index-url"):
        value = pip_config_value(key)
        if value:
            urls = [url for url in value.split() if not url.startswith("file:")]
            if urls:
                lines.append(f"{key} = {' '.join(urls)}")
    return "\n".join(lines) + "\n"


def pip_config_value(key: str) -> str | None:
    env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
    if env:
        return env
    result = subprocess.run([sys.executable, "-m", "pip", "config", "get", f"global.{key}"],
                            capture_output=True, text=True)
    return (result.stdout.strip() or None) if result.returncode == 0 else None
