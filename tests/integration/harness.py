"""A real Keystone and a real Octavia API on loopback, from a cached virtualenv of their own.

Follows the measured recipe in shared/real-openstack.md (summarised in docs/real-openstack.md):
Keystone on sqlite with fernet tokens, the Octavia API on sqlite with keystone auth and the noop
drivers, both under gunicorn behind a WSGI shim that hides gunicorn's arguments from
oslo.config. Every process is started in a session (process group) of its own and stopped by
that group id; nothing here kills by name.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support.ports import free_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SIDE = HERE / "openstack_side"
CONSTRAINTS = HERE / "constraints.txt"
REQUIREMENTS = ("octavia", "keystone", "python-keystoneclient")
CACHE_ENV = "OCTAVIA_EXPORTER_OPENSTACK_CACHE"
INSTALL_TIMEOUT = 480.0
PASSWORD = "integration-secret"
ADMIN_PASSWORD = "bootstrap-secret"
REGION = "RegionOne"
TENANTS = ("tenant-a", "tenant-b", "tenant-c")
# Octavia's page cap, kept small so that every list the exporter reads spans several pages.
PAGE_CAP = 5
# Seconds keystonemiddleware caches a validated token (see OCTAVIA_CONF).
TOKEN_CACHE_SECONDS = 2


class VenvUnavailable(Exception):
    """The OpenStack virtualenv could not be built (no registry, a pin that does not resolve…)."""


class StartupFailed(Exception):
    """A server did not come up; the message carries the end of its log."""


# --- the virtualenv ----------------------------------------------------------------------------

def venv_key() -> str:
    digest = hashlib.sha256()
    digest.update(CONSTRAINTS.read_bytes())
    digest.update(" ".join(REQUIREMENTS).encode())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or REPO / ".cache" / "openstack-venv")


@dataclass
class VenvInfo:
    path: Path
    built: bool  # False: reused from the cache
    seconds: float

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    def bin(self, name: str) -> str:
        return str(self.path / "bin" / name)


def ensure_venv() -> VenvInfo:
    """The cached virtualenv for the current constraints, built on first use.

    A virtualenv is not relocatable (scripts name their interpreter by absolute path), so it is
    built in place and marked complete last; a directory without the mark is rebuilt. A file
    lock keeps two test runs from building the same one at once. Virtualenvs of other keys (an
    old pin set) are removed once the new one is complete.
    """
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / venv_key()
    mark = target / ".complete"
    started = time.monotonic()
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if mark.exists():
            return VenvInfo(target, False, time.monotonic() - started)
        shutil.rmtree(target, ignore_errors=True)
        log = root / f"{target.name}.install.log"
        deadline = started + INSTALL_TIMEOUT
        with open(log, "w") as out:
            steps = (
                [sys.executable, "-m", "venv", str(target)],
                [str(target / "bin" / "python"), "-m", "pip", "install", "--quiet",
                 "--disable-pip-version-check", "-c", str(CONSTRAINTS), *REQUIREMENTS],
                [str(target / "bin" / "python"), "-m", "pip", "check"],
            )
            for argv in steps:
                out.write(f"$ {' '.join(argv)}\n")
                out.flush()
                try:
                    code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT,
                                          stdin=subprocess.DEVNULL,
                                          timeout=max(1.0, deadline - time.monotonic())).returncode
                except (OSError, subprocess.TimeoutExpired) as exc:
                    code, detail = -1, repr(exc)
                else:
                    detail = f"exit {code}"
                if code != 0:
                    shutil.rmtree(target, ignore_errors=True)
                    text = log.read_text(errors="replace")
                    lines = [x for x in text.splitlines() if x.strip()]
                    why = next((x for x in reversed(lines) if x.startswith("ERROR")),
                               lines[-1] if lines else detail)
                    raise VenvUnavailable(
                        f"cannot build the OpenStack virtualenv: {why} ({argv[0]} … "
                        f"{argv[-1]}: {detail}; log {log})\n{text[-3000:]}")
        seconds = time.monotonic() - started
        mark.write_text(json.dumps({"seconds": round(seconds, 1), "built": time.time()}))
        for other in root.iterdir():  # only what this function made: <16 hex>[.install.log]
            key = other.name.removesuffix(".install.log")
            if key != target.name and re.fullmatch(r"[0-9a-f]{16}", key):
                shutil.rmtree(other) if other.is_dir() else other.unlink()
        return VenvInfo(target, True, seconds)


# --- processes ---------------------------------------------------------------------------------

_RUNNING: dict[int, subprocess.Popen[bytes]] = {}  # process-group id → its leader


def stop_group(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group led by `process`, reap the leader, SIGKILL what is left."""
    pgid = process.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace)
    # The leader is reaped (or hung); anything of the group still alive gets SIGKILL.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(5.0)
    _RUNNING.pop(pgid, None)


def stop_groups(processes: list[subprocess.Popen[bytes]], grace: float = 10.0) -> None:
    """stop_group for several at once: SIGTERM to all first, so their shutdowns overlap."""
    for process in processes:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        stop_group(process, max(0.0, deadline - time.monotonic()))


@atexit.register
def _stop_leftovers() -> None:
    stop_groups(list(_RUNNING.values()), 2.0)


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    port: int
    ready_url: str  # polled with GET until it answers below 500, unless `ready` is given
    ready: Callable[[], bool] | None = None
    stdin: bytes | None = None
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    def launch(self) -> None:
        """Start in a new session (so the whole process group can be stopped by its id)."""
        self.started = time.monotonic()
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL if self.stdin is None else subprocess.PIPE,
                start_new_session=True)
        _RUNNING[self.process.pid] = self.process
        if self.stdin is not None:
            assert self.process.stdin is not None
            self.process.stdin.write(self.stdin)
            self.process.stdin.close()

    def wait_ready(self, timeout: float = 60.0) -> float:
        """Poll until the server answers (per-request timeout, overall deadline); seconds taken."""
        assert self.process is not None
        deadline = self.started + timeout
        problem = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                problem = f"exited with {self.process.returncode}"
                break
            try:
                if self.ready is not None:
                    if self.ready():
                        return time.monotonic() - self.started
                    problem = "not ready"
                elif requests.get(self.ready_url, timeout=1.0).status_code < 500:
                    return time.monotonic() - self.started
                else:
                    problem = "answered 5xx"
            except (requests.RequestException, OSError) as exc:
                problem = type(exc).__name__
            time.sleep(0.1)
        self.stop()
        raise StartupFailed(f"{self.name} not ready at {self.ready_url} within {timeout:g} s "
                            f"({problem}); last lines of {self.log}:\n{self.tail()}")

    def start(self, timeout: float = 60.0) -> float:
        self.launch()
        return self.wait_ready(timeout)

    def stop(self) -> None:
        if self.process is None:
            return
        stop_group(self.process)
        self.process = None

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


def stop_servers(servers: list[Server], grace: float = 10.0) -> None:
    stop_groups([s.process for s in servers if s.process is not None], grace)
    for server in servers:
        server.process = None


def run(argv: list[str], *, env: dict[str, str] | None = None, stdin: str | None = None,
        timeout: float = 120.0, what: str = "") -> str:
    done = subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise StartupFailed(f"{what or argv[0]} failed ({done.returncode}):\n"
                            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return done.stdout


def gunicorn(venv: VenvInfo, module: str, port: int) -> list[str]:
    return [venv.python, "-m", "gunicorn", "--workers", "1", "--threads", "4",
            "--no-control-socket", "--graceful-timeout", "2", "--timeout", "60",
            "--bind", f"127.0.0.1:{port}", "--pythonpath", str(SIDE), f"{module}:application"]


# --- the cloud ---------------------------------------------------------------------------------

@dataclass
class Cloud:
    """Keystone + Octavia API, seeded; what a test needs to reach and change them."""

    venv: VenvInfo
    workdir: Path
    keystone: Server
    octavia: Server
    seed: dict[str, Any]
    clouds_yaml: Path
    template: Path  # the prepared databases this cloud was copied from
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.keystone.port}/v3"

    @property
    def octavia_url(self) -> str:
        return f"http://127.0.0.1:{self.octavia.port}"

    @property
    def db_path(self) -> Path:
        return self.workdir / "octavia.db"

    def project_id(self, name: str) -> str:
        project: str = self.seed["projects"][name]
        return project

    def token(self, user: str = "exporter", project: str = "admin") -> str:
        """A fresh token (password auth), straight from Keystone's REST API."""
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user, "domain": {"id": "default"},
                "password": ADMIN_PASSWORD if user == "admin" else PASSWORD}}},
            "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        response = requests.post(f"{self.auth_url}/auth/tokens", json=body, timeout=10)
        response.raise_for_status()
        return response.headers["X-Subject-Token"]

    def revoke(self, token: str) -> None:
        """DELETE /v3/auth/tokens as the admin: Keystone refuses `token` from now on."""
        response = requests.delete(f"{self.auth_url}/auth/tokens", timeout=10, headers={
            "X-Auth-Token": self.token("admin"), "X-Subject-Token": token})
        assert response.status_code == 204, (response.status_code, response.text)

    def stop(self) -> None:
        stop_servers([self.octavia, self.keystone])


KEYSTONE_CONF = """\
[DEFAULT]
log_file = {dir}/keystone.log
[database]
connection = sqlite:///{dir}/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = {dir}/fernet-keys
[credential]
key_repository = {dir}/credential-keys
[identity]
# bcrypt's cheapest cost: every user made and every password token costs a hash, 0.3 s each at
# the default cost of 12 on this machine; these passwords protect nothing.
password_hash_rounds = 4
"""

OCTAVIA_CONF = """\
[DEFAULT]
transport_url = fake://
log_file = {dir}/octavia-api.log
[database]
connection = sqlite:///{dir}/octavia.db
# sqlite uses NullPool, which refuses pool_timeout: every request would be a 500.
pool_timeout =
[api_settings]
bind_host = 127.0.0.1
bind_port = {port}
auth_strategy = keystone
enabled_provider_drivers = noop_driver:The noop driver,amphora:Amphora driver
default_provider_driver = noop_driver
pagination_max_limit = {page_cap}
[controller_worker]
amphora_driver = amphora_noop_driver
compute_driver = compute_noop_driver
network_driver = network_noop_driver
image_driver = image_noop_driver
volume_driver = volume_noop_driver
[keystone_authtoken]
www_authenticate_uri = {auth_url}
auth_url = {auth_url}
auth_type = password
username = octavia
password = {password}
project_name = service
user_domain_name = Default
project_domain_name = Default
service_token_roles_required = true
# Without it keystonemiddleware looks for Keystone's admin endpoint and every request is a 500.
interface = public
# No memcached, so keystonemiddleware caches validated tokens in-process, for 300 s by default:
# a token revoked in Keystone would still be accepted for five minutes. Validating every request
# instead (-1) costs 100-200 ms a request here, so cache briefly: a revocation takes effect within
# {token_cache} s (the revocation test polls until it does).
token_cache_time = {token_cache}
# Octavia needs no catalog from the token (noop drivers); leaving it out halves validation time.
include_service_catalog = false
"""


def clouds_yaml(auth_url: str, seed: dict[str, Any]) -> dict[str, Any]:
    common = {"region_name": REGION, "interface": "public", "identity_api_version": 3}

    def password(user: str, project: str) -> dict[str, Any]:
        return {**common, "auth_type": "password", "auth": {
            "auth_url": auth_url, "username": user, "password": PASSWORD,
            "project_name": project, "user_domain_name": "Default",
            "project_domain_name": "Default"}}

    credential = seed["application_credential"]
    return {"clouds": {
        "os-admin": password("exporter", "admin"),
        "os-member": password("viewer", TENANTS[0]),
        "os-appcred": {**common, "auth_type": "v3applicationcredential", "auth": {
            "auth_url": auth_url, "application_credential_id": credential["id"],
            "application_credential_secret": credential["secret"]}},
    }}


def service_env(workdir: Path) -> dict[str, str]:
    # The caller's OS_* variables (a real cloud's, say) must not reach the services.
    env = {name: value for name, value in os.environ.items() if not name.startswith("OS_")}
    env.update(HOME=str(workdir), OS_KEYSTONE_CONFIG_DIR=str(workdir),
               OCTAVIA_CONFIG_FILE=str(workdir / "octavia.conf"), PYTHONWARNINGS="ignore")
    return env


def write_configs(workdir: Path, ks_port: int, oct_port: int) -> None:
    (workdir / "keystone.conf").write_text(KEYSTONE_CONF.format(dir=workdir))
    (workdir / "octavia.conf").write_text(OCTAVIA_CONF.format(
        dir=workdir, port=oct_port, page_cap=PAGE_CAP, password=PASSWORD,
        auth_url=f"http://127.0.0.1:{ks_port}/v3", token_cache=TOKEN_CACHE_SECONDS))


def template_key() -> str:
    """What the prepared databases depend on besides the virtualenv: the scripts and settings."""
    digest = hashlib.sha256()
    for name in ("make_octavia_db.py", "seed_keystone.py"):
        digest.update((SIDE / name).read_bytes())
    digest.update(KEYSTONE_CONF.encode())
    digest.update(repr((TENANTS, PASSWORD, ADMIN_PASSWORD, REGION)).encode())
    return digest.hexdigest()[:12]


TEMPLATE_FILES = ("keystone.db", "octavia.db", "fernet-keys", "credential-keys", "seed.json")


def ensure_template(venv: VenvInfo) -> tuple[Path, bool]:
    """Keystone and Octavia databases made once per virtualenv by the services' own tools.

    keystone-manage db_sync, fernet_setup, credential_setup and bootstrap, Octavia's schema and
    the seeding through Keystone's API take 10-20 s on this machine; every run after the first
    copies their result instead. Endpoint URLs, the only thing that depends on the ports, are
    rewritten for each run (instantiate()).
    """
    template = venv.path / f"cloud-template-{template_key()}"
    with open(venv.path / ".template.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (template / ".complete").exists():
            return template, False
        for old in venv.path.glob("cloud-template-*"):
            shutil.rmtree(old, ignore_errors=True)
        building = template.with_name(template.name + ".building")
        building.mkdir()
        ks_port = free_port()
        write_configs(building, ks_port, free_port())
        env = service_env(building)
        manage = [venv.bin("keystone-manage"), "--config-file", str(building / "keystone.conf")]
        owner = ["--keystone-user", str(os.getuid()), "--keystone-group", str(os.getgid())]
        # Independent steps side by side: Keystone's schema, its two key repositories, Octavia's
        # schema (each mostly Python start-up and sqlite).
        parallel = {
            "keystone-manage db_sync": [*manage, "db_sync"],
            "keystone-manage fernet_setup": [*manage, "fernet_setup", *owner],
            "keystone-manage credential_setup": [*manage, "credential_setup", *owner],
            "octavia schema": [venv.python, str(SIDE / "make_octavia_db.py"),
                               str(building / "octavia.conf")],
        }
        procs = {what: subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
                 for what, argv in parallel.items()}
        failures = []
        for what, proc in procs.items():
            out, err = proc.communicate(timeout=180)
            if proc.returncode != 0:
                failures.append(f"{what} failed ({proc.returncode}):\n{out[-1000:]}\n"
                                f"{err[-3000:]}")
        if failures:
            raise StartupFailed("\n".join(failures))
        auth_url = f"http://127.0.0.1:{ks_port}/v3"
        run([*manage, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
             "--bootstrap-public-url", auth_url, "--bootstrap-region-id", REGION],
            env=env, what="keystone-manage bootstrap")
        keystone = Server("keystone", gunicorn(venv, "wsgi_keystone", ks_port), env,
                          building / "keystone-gunicorn.log", ks_port, auth_url)
        try:
            keystone.start()
            seed = run([venv.python, str(SIDE / "seed_keystone.py")], env=env,
                       what="seeding Keystone", stdin=json.dumps({
                           "auth_url": auth_url, "admin_password": ADMIN_PASSWORD,
                           "password": PASSWORD, "octavia_url": "http://127.0.0.1:9",
                           "projects": list(TENANTS), "region": REGION}))
        except StartupFailed as exc:
            raise StartupFailed(f"{exc}\n--- keystone log:\n{tail(building / 'keystone.log')}"
                                ) from exc
        finally:
            keystone.stop()
        (building / "seed.json").write_text(seed)
        for name in list(building.iterdir()):
            if name.name not in TEMPLATE_FILES:
                shutil.rmtree(name) if name.is_dir() else name.unlink()
        building.rename(template)
        (template / ".complete").touch()
        return template, True


def instantiate(template: Path, workdir: Path, ks_port: int, oct_port: int) -> dict[str, Any]:
    """Copy the prepared databases into `workdir` and point the catalog at this run's ports."""
    for name in TEMPLATE_FILES:
        source = template / name
        if source.is_dir():
            shutil.copytree(source, workdir / name)
        else:
            shutil.copy2(source, workdir / name)
    write_configs(workdir, ks_port, oct_port)
    with contextlib.closing(sqlite3.connect(workdir / "keystone.db")) as conn, conn:
        for service_type, url in (("identity", f"http://127.0.0.1:{ks_port}/v3"),
                                  ("load-balancer", f"http://127.0.0.1:{oct_port}")):
            changed = conn.execute(
                "UPDATE endpoint SET url = ? WHERE service_id IN "
                "(SELECT id FROM service WHERE type = ?)", (url, service_type)).rowcount
            assert changed >= 1, (service_type, changed)
    seed: dict[str, Any] = json.loads((workdir / "seed.json").read_text())
    return seed


def start_cloud(venv: VenvInfo, workdir: Path) -> Cloud:
    """Bring up Keystone and Octavia in `workdir`; on any failure stop what was started."""
    timings: dict[str, float] = {"venv": venv.seconds}
    t0 = time.monotonic()
    template, built = ensure_template(venv)
    timings["template built" if built else "template reused"] = time.monotonic() - t0
    ks_port, oct_port = free_port(), free_port()
    while oct_port == ks_port:
        oct_port = free_port()
    seed = instantiate(template, workdir, ks_port, oct_port)
    env = service_env(workdir)
    auth_url = f"http://127.0.0.1:{ks_port}/v3"
    keystone = Server("keystone", gunicorn(venv, "wsgi_keystone", ks_port), env,
                      workdir / "keystone-gunicorn.log", ks_port, auth_url)
    octavia = Server("octavia", gunicorn(venv, "wsgi_octavia", oct_port), env,
                     workdir / "octavia-gunicorn.log", oct_port, f"http://127.0.0.1:{oct_port}/")
    try:
        # Side by side: Octavia needs Keystone only once a request with a token arrives.
        keystone.launch()
        octavia.launch()
        timings["keystone_ready"] = keystone.wait_ready()
        timings["octavia_ready"] = octavia.wait_ready()
    except BaseException as exc:
        octavia.stop()
        keystone.stop()
        if isinstance(exc, StartupFailed):
            raise StartupFailed(f"{exc}\n--- keystone log:\n{tail(workdir / 'keystone.log')}"
                                f"\n--- octavia log:\n{tail(workdir / 'octavia-api.log')}") from exc
        raise
    path = workdir / "clouds.yaml"
    path.write_text(yaml.safe_dump(clouds_yaml(auth_url, seed)))
    path.chmod(0o600)
    timings["bring_up"] = time.monotonic() - t0
    return Cloud(venv, workdir, keystone, octavia, seed, path, template, timings)


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(none)"


@contextlib.contextmanager
def running_cloud(venv: VenvInfo, workdir: Path) -> Iterator[Cloud]:
    cloud = start_cloud(venv, workdir)
    try:
        yield cloud
    finally:
        cloud.stop()
