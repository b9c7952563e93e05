"""Octavia's full pipeline on loopback: RabbitMQ, the worker, the health manager, a heartbeat.

A second Octavia API (its own database, the shared Keystone, catalog region `RegionTwo`) with
the amphora provider and noop compute/network drivers, Debian's RabbitMQ started by hand on
loopback only, `octavia-worker` that drives a load balancer to ACTIVE with a real amphora row,
and `octavia-health-manager` that takes a signed UDP heartbeat and writes statuses and
statistics, as in production. Measured settings: shared/real-openstack.md.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.integration.harness import (
    OCTAVIA_CONF,
    PAGE_CAP,
    PASSWORD,
    SIDE,
    TOKEN_CACHE_SECONDS,
    Cloud,
    Server,
    StartupFailed,
    gunicorn,
    run,
    service_env,
    stop_servers,
    tail,
)
from tests.support.ports import free_port
from tests.system.rabbit import SERVER

# Debian's rabbitmq-server: scripts/test.sh installs it (conftest requires it).
RABBITMQ = Path(SERVER)
REGION = "RegionTwo"
HEARTBEAT_KEY = "integration-heartbeat-key"
# The worker consumes, and the API casts to, this topic (octavia.common.constants).
QUEUE = "octavia_provisioning_v2"


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def rabbitmq(workdir: Path) -> tuple[Server, int]:
    """RabbitMQ on 127.0.0.1 only, with its own epmd in the same process group."""
    base = workdir / "rabbitmq"
    base.mkdir()
    amqp, dist, epmd = free_port(), free_port(), free_port()
    (base / "enabled_plugins").write_text("[].\n")
    (base / "rabbitmq.conf").write_text("")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(base),
        "ERL_EPMD_ADDRESS": "127.0.0.1", "ERL_EPMD_PORT": str(epmd),
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1", "RABBITMQ_NODE_PORT": str(amqp),
        "RABBITMQ_DIST_PORT": str(dist), "RABBITMQ_NODENAME": f"rabbit-it-{amqp}@localhost",
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_PID_FILE": str(base / "pid"), "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"), "RABBITMQ_LOGS": "-",
        # Our epmd, not one the node would start (and daemonise out of our process group); the
        # distribution port on loopback too.
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
            "-start_epmd false -kernel inet_dist_use_interface {127,0,0,1}",
    }
    script = (f"epmd -address 127.0.0.1 -port {epmd} & "
              f"sleep 0.2; exec {RABBITMQ}")
    server = Server("rabbitmq", ["sh", "-c", script], env, workdir / "rabbitmq.log", amqp, "",
                    ready=lambda: port_open(amqp))
    return server, amqp


def make_ca(workdir: Path) -> tuple[Path, Path]:
    key, cert = workdir / "ca.key", workdir / "ca.pem"
    run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30",
         "-subj", "/CN=octavia-integration-ca", "-keyout", str(key), "-out", str(cert)],
        what="openssl (the amphora CA)", timeout=60)
    return key, cert


def pipeline_conf(workdir: Path, cloud: Cloud, port: int, amqp: int, hm_port: int,
                  ca: tuple[Path, Path]) -> str:
    text = OCTAVIA_CONF.format(dir=workdir, port=port, page_cap=PAGE_CAP, password=PASSWORD,
                               auth_url=cloud.auth_url, token_cache=TOKEN_CACHE_SECONDS)
    text = text.replace("transport_url = fake://",
                        f"transport_url = rabbit://guest:guest@127.0.0.1:{amqp}/")
    text = text.replace("default_provider_driver = noop_driver",
                        "default_provider_driver = amphora")
    text = text.replace("[controller_worker]\n", f"""[controller_worker]
loadbalancer_topology = SINGLE
amp_boot_network_list = 00000000-0000-0000-0000-00000000beef
amp_flavor_id = integration-flavor
amp_image_tag = amphora
# Without it the load balancer goes to ERROR: FileNotFoundError on /etc/octavia/certs/ca_01.pem.
client_ca = {ca[1]}
""")
    return text + f"""
[oslo_messaging_notifications]
# Octavia's load-balancer create/update/delete notifications, for the exporter's listener.
driver = messagingv2
topics = notifications
[certificates]
cert_generator = local_cert_generator
ca_certificate = {ca[1]}
ca_private_key = {ca[0]}
server_certs_key_passphrase = integration-pass_phrase-32-chars
[health_manager]
heartbeat_key = {HEARTBEAT_KEY}
bind_ip = 127.0.0.1
bind_port = {hm_port}
# Silent amphorae must not be failed over in the middle of a test.
heartbeat_timeout = 3600
health_update_threads = 1
stats_update_threads = 1
"""


@dataclass
class Pipeline:
    workdir: Path
    servers: list[Server]
    octavia_url: str
    hm_port: int
    db_path: Path
    clouds_yaml: Path
    timings: dict[str, float]
    amqp_url: str = ""

    def stop(self) -> None:
        # Disposable (a temporary database, a throw-away broker): 3 s of grace, then SIGKILL.
        # The health manager's pool processes can outlast a SIGTERM while sqlite is locked.
        stop_servers(self.servers, grace=3.0)


def register_region(cloud: Cloud, url: str) -> None:
    """A second region whose load-balancer endpoints are the pipeline's Octavia."""
    headers = {"X-Auth-Token": cloud.token("admin")}
    base = cloud.auth_url
    response = requests.post(f"{base}/regions", json={"region": {"id": REGION}},
                             headers=headers, timeout=10)
    assert response.status_code in (201, 409), response.text
    services = requests.get(f"{base}/services?type=load-balancer", headers=headers,
                            timeout=10).json()["services"]
    for interface in ("public", "internal", "admin"):
        response = requests.post(f"{base}/endpoints", headers=headers, timeout=10, json={
            "endpoint": {"service_id": services[0]["id"], "interface": interface, "url": url,
                         "region_id": REGION}})
        assert response.status_code == 201, response.text


def start_pipeline(cloud: Cloud, workdir: Path) -> Pipeline:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    venv = cloud.venv
    port, hm_port = free_port(), free_port()
    broker, amqp = rabbitmq(workdir)
    servers = [broker]
    try:
        broker.launch()
        # An empty schema of its own (the prepared one), so the main fleet's truth is untouched.
        shutil.copy2(cloud.template / "octavia.db", workdir / "octavia.db")
        conf = workdir / "octavia.conf"
        conf.write_text(pipeline_conf(workdir, cloud, port, amqp, hm_port, make_ca(workdir)))
        env = service_env(workdir)
        api = Server("octavia-api (pipeline)", gunicorn(venv, "wsgi_octavia", port), env,
                     workdir / "octavia-gunicorn.log", port, f"http://127.0.0.1:{port}/")
        api.launch()
        servers.append(api)
        timings["rabbitmq_ready"] = broker.wait_ready()
        for name in ("octavia-worker", "octavia-health-manager"):
            server = Server(name, [venv.bin(name), "--config-file", str(conf),
                                   "--log-file", str(workdir / f"{name}.log")],
                            env, workdir / f"{name}.out", 0, "", ready=lambda: True)
            server.launch()
            servers.append(server)
        timings["api_ready"] = api.wait_ready()
        # The API casts the create to the worker's queue; a cast before the worker consumes is
        # lost, so wait for its consumer.
        run([venv.python, str(SIDE / "amqp_consumers.py"),
             f"amqp://guest:guest@127.0.0.1:{amqp}//", QUEUE, "60"],
            what="waiting for octavia-worker to consume", timeout=90)
        timings["worker_ready"] = time.monotonic() - t0
        register_region(cloud, f"http://127.0.0.1:{port}")
    except BaseException as exc:
        stop_servers(servers)
        if isinstance(exc, StartupFailed):
            logs = "\n".join(f"--- {p.name}:\n{tail(p)}" for p in sorted(workdir.glob("*.log")))
            raise StartupFailed(f"{exc}\n{logs}") from exc
        raise
    clouds = yaml.safe_load(cloud.clouds_yaml.read_text())
    entry = dict(clouds["clouds"]["os-admin"], region_name=REGION)
    path = workdir / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {"os-pipeline": entry}}))
    path.chmod(0o600)
    timings["pipeline_up"] = time.monotonic() - t0
    return Pipeline(workdir, servers, f"http://127.0.0.1:{port}", hm_port,
                    workdir / "octavia.db", path, timings,
                    amqp_url=f"amqp://guest:guest@127.0.0.1:{amqp}/")


def heartbeat(cloud: Cloud, pipeline: Pipeline, message: dict[str, Any]) -> Server:
    """Start sending `message` every second as the amphora would; stop() the returned Server."""
    sender = Server("heartbeat", [cloud.venv.python, str(SIDE / "heartbeat.py")],
                    service_env(pipeline.workdir), pipeline.workdir / "heartbeat.log", 0, "",
                    ready=lambda: True, stdin=json.dumps({
                        "host": "127.0.0.1", "port": pipeline.hm_port, "key": HEARTBEAT_KEY,
                        "interval": 1.0, "message": message}).encode())
    sender.start()
    pipeline.servers.append(sender)
    return sender
