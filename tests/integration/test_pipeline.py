"""The full pipeline: worker drives a load balancer to ACTIVE, a heartbeat makes it DEGRADED.

No database writes here: the API creates, the worker provisions (amphora provider, noop
compute), the health manager turns a signed heartbeat into statuses and statistics, and the
exporter reads it all back through the API of region RegionTwo.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from typing import Any

import requests

from exporter.config import Settings
from exporter.runtime.process import build_service
from exporter.telemetry import Telemetry
from tests.integration import checks, fleet, harness, pipeline
from tests.support.exporter import Exporter, use_clouds_yaml
from tests.support.exposition import one, status_of

SENT = {"rx": 123_456, "tx": 7_890_123, "conns": 7, "totconns": 4_321, "ereq": 3}


def wait_for(what: str, check: Any, pipe: pipeline.Pipeline, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    logs = "\n".join(f"--- {p.name}:\n{harness.tail(p)}" for p in sorted(pipe.workdir.glob("*.log")))
    raise AssertionError(f"{what} within {timeout:g} s\n{logs}")


def query(pipe: pipeline.Pipeline, sql: str, *args: Any) -> list[sqlite3.Row]:
    with closing(sqlite3.connect(pipe.db_path, timeout=30)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, args).fetchall()


async def test_worker_health_manager_and_exporter(cloud, full_pipeline, monkeypatch) -> None:
    pipe = full_pipeline
    http = requests.Session()
    http.headers["X-Auth-Token"] = cloud.token()
    body = {"loadbalancer": {
        "name": "through-the-pipeline", "vip_subnet_id": "00000000-0000-0000-0000-0000000000aa",
        "provider": "amphora", "project_id": cloud.project_id(harness.TENANTS[1]),
        "listeners": [{"name": "front", "protocol": "HTTP", "protocol_port": 80,
                       "default_pool": {
                           "name": "backends", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                           "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 3,
                                             "max_retries": 3},
                           "members": [{"address": f"192.0.2.{i}", "protocol_port": 8080,
                                        "name": f"web-{i}"} for i in (1, 2, 3)]}}]}}
    created = http.post(f"{pipe.octavia_url}/v2/lbaas/loadbalancers", json=body, timeout=30)
    assert created.status_code == 201, created.text
    lb_id = created.json()["loadbalancer"]["id"]

    def active() -> bool:
        lb = http.get(f"{pipe.octavia_url}/v2/lbaas/loadbalancers/{lb_id}", timeout=10)
        status = lb.json()["loadbalancer"]["provisioning_status"]
        assert status != "ERROR", lb.text
        return status == "ACTIVE"

    wait_for("octavia-worker did not make the load balancer ACTIVE", active, pipe)
    (amp,) = query(pipe, "SELECT id, status, role FROM amphora WHERE load_balancer_id = ?", lb_id)
    assert (amp["status"], amp["role"]) == ("ALLOCATED", "STANDALONE")
    (listener,) = query(pipe, "SELECT id, default_pool_id FROM listener WHERE "
                              "load_balancer_id = ?", lb_id)
    members = [r["id"] for r in query(pipe, "SELECT id FROM member WHERE pool_id = ? "
                                            "ORDER BY ip_address", listener["default_pool_id"])]

    # What the amphora agent sends (message version 2: absolute counters): one backend down.
    pool_key = f"{listener['default_pool_id']}:{listener['id']}"
    sender = pipeline.heartbeat(cloud, pipe, {
        "id": amp["id"], "ver": 2,
        "listeners": {listener["id"]: {"status": "OPEN", "stats": SENT}},
        "pools": {pool_key: {"status": "UP", "members": {
            members[0]: "UP", members[1]: "DOWN", members[2]: "UP"}}},
    })
    try:
        wait_for("the health manager did not apply the heartbeat", lambda: query(
            pipe, "SELECT 1 FROM load_balancer l JOIN listener_statistics s ON "
                  "s.amphora_id = ? WHERE l.id = ? AND l.operating_status = 'DEGRADED'",
            amp["id"], lb_id), pipe)

        use_clouds_yaml(monkeypatch, pipe.clouds_yaml)
        telemetry = Telemetry()
        service, exposition, clients = build_service(Settings(
            clouds=("os-pipeline",), request_timeout=10.0, retries=1, cycle_timeout=60.0),
            telemetry)
        exporter = Exporter(service, exposition, clients, telemetry)
        try:
            metrics = await exporter.cycle()
        finally:
            await exporter.close()
    finally:
        sender.stop()

    assert exporter.cycles == [True]
    assert status_of(metrics, "octavia_loadbalancer_operating_status",
                     loadbalancer_id=lb_id) == "DEGRADED"
    assert status_of(metrics, "octavia_pool_operating_status",
                     pool_id=listener["default_pool_id"]) == "DEGRADED"
    assert [status_of(metrics, "octavia_member_operating_status", member_id=m)
            for m in members] == ["ONLINE", "ERROR", "ONLINE"]
    assert status_of(metrics, "octavia_amphora_status", amphora_id=amp["id"]) == "ALLOCATED"
    for key, metric in (("rx", "bytes_in_total"), ("tx", "bytes_out_total"),
                        ("conns", "active_connections"), ("totconns", "connections_total"),
                        ("ereq", "request_errors_total")):
        assert one(metrics, f"octavia_loadbalancer_stats_{metric}", loadbalancer_id=lb_id) == SENT[key]
        assert one(metrics, f"octavia_listener_stats_{metric}", listener_id=listener["id"]) == SENT[key]
    # And everything else the pipeline wrote (certificate expiry from the worker's real
    # certificate included) equals its database.
    assert checks.mismatches(metrics, fleet.read_truth(pipe.db_path)) == []
