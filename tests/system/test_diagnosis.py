"""Every way a call can fail says what and where: the reason label, the endpoint (keystone for
Keystone), the URL in the log line, and never a secret. Real sockets on loopback throughout: a
closed port, a TLS server with a certificate nobody trusts, a server that never answers, and the
simulator's Keystone and Octavia answering errors."""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
import yaml
from aiohttp import web

from exporter.config import Settings
from exporter.runtime.process import build_service
from exporter.telemetry import Telemetry
from tests import certs
from tests.support.cli import run
from tests.support.exporter import events, failed_cycle, use_clouds_yaml
from tests.support.exposition import one, parse_exposition
from tests.support.ports import free_port

PASSWORD = "hunter2-not-logged"
SIM_PASSWORD = "admin-secret"


def broken_clouds_yaml(path: Any, auth_url: str, **extra: Any) -> None:
    cloud = {"auth": {"auth_url": auth_url, "username": "admin", "password": PASSWORD,
                      "project_name": "admin", "user_domain_name": "Default",
                      "project_domain_name": "Default"},
             "region_name": "RegionOne", **extra}
    path.write_text(yaml.safe_dump({"clouds": {"broken": cloud}}))


async def one_cycle(**overrides: Any) -> tuple[bool, dict[str, Any], Telemetry]:
    values: dict[str, Any] = {"clouds": ("broken",), "request_timeout": 1.0, "retries": 0,
                              "interval": 1.0, "cycle_timeout": 20.0}
    values.update(overrides)
    telemetry = Telemetry()
    service, exposition, clients = build_service(Settings(**values), telemetry)
    try:
        ok = await service.run_cycle(service.clouds[0])
    finally:
        for client in clients:
            await client.close()
    body, _ = exposition.body(openmetrics=False, compress=False)
    return ok, parse_exposition(body.decode()), telemetry


def failure_events(buffer: Any) -> list[dict[str, Any]]:
    return [e for e in events(buffer) if e["event"] in ("api_call_failed", "poll_cycle_failed")]


def assert_diagnosed(metrics: dict[str, Any], buffer: Any, cloud: str, endpoint: str,
                     reason: str, url: str, secrets: tuple[str, ...]) -> None:
    assert one(metrics, "octavia_poll_errors_total", cloud=cloud, endpoint=endpoint,
               reason=reason) == 1, metrics.get("octavia_poll_errors_total")
    assert one(metrics, "octavia_last_error_info", cloud=cloud, endpoint=endpoint,
               reason=reason) == 1
    assert (one(metrics, "octavia_last_error_timestamp_seconds", cloud=cloud,
                endpoint=endpoint) or 0) > 0
    failed = failure_events(buffer)
    assert failed, events(buffer)
    for event in failed:
        assert (event["endpoint"], event["reason"], event["url"]) == (endpoint, reason, url)
    text = buffer.getvalue()
    for secret in secrets:
        assert secret not in text


@pytest.fixture
def broken(tmp_path, monkeypatch):
    path = tmp_path / "clouds.yaml"
    use_clouds_yaml(monkeypatch, path)
    return path


@pytest.fixture
async def untrusted_tls_server(tmp_path) -> AsyncIterator[int]:
    made = certs.make(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(made.server.cert, made.server.key)
    runner = web.AppRunner(web.Application())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    yield port
    await runner.cleanup()


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """Accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()


@pytest.mark.parametrize("where", ["closed_port", "dns", "tls", "timeout"])
async def test_keystone_transport_failures_are_keystone_s(
        where, broken, log_buffer, untrusted_tls_server, silent_server,
        loopback_resolver) -> None:
    url, reason = {
        "closed_port": (f"http://127.0.0.1:{free_port()}/v3", "connection_refused"),
        "dns": ("http://keystone.invalid:5000/v3", "dns"),
        "tls": (f"https://127.0.0.1:{untrusted_tls_server}/v3", "tls"),
        "timeout": (f"http://127.0.0.1:{silent_server}/v3", "timeout"),
    }[where]
    broken_clouds_yaml(broken, url)
    ok, metrics, _ = await one_cycle()
    assert not ok
    assert one(metrics, "octavia_up", cloud="broken") == 0
    assert_diagnosed(metrics, log_buffer, "broken", "keystone", reason, url, (PASSWORD,))
    # Not blamed on the Octavia call that happened to need the token first.
    assert not [s for s in metrics["octavia_poll_errors_total"] if s[0]["endpoint"] != "keystone"]
    if where == "dns":  # answered on this machine (tests/support/network.py), never by a server
        assert "keystone.invalid" in loopback_resolver.looked_up


async def test_keystone_errors_from_the_simulator(sim, control, log_buffer) -> None:
    for status, reason in ((401, "unauthorized"), (503, "server_error"), (403, "forbidden")):
        await control.faults({"kind": "error", "service": "keystone", "status": status,
                              "endpoint": "/v3/auth/tokens"})
        ok, metrics, _ = await one_cycle(clouds=("simulator",))
        assert not ok
        assert one(metrics, "octavia_last_error_info", cloud="simulator", endpoint="keystone",
                   reason=reason) == 1, (status, metrics.get("octavia_last_error_info"))
        last = failure_events(log_buffer)[-1]
        assert (last["endpoint"], last["reason"]) == ("keystone", reason)
        assert last["url"] == sim.auth_url.rstrip("/"), last
    assert SIM_PASSWORD not in log_buffer.getvalue()


OCTAVIA_FAULTS = [
    ({"kind": "error", "status": 500}, "server_error"),
    ({"kind": "error", "status": 429, "retry_after": 0}, "rate_limited"),
    ({"kind": "error", "status": 403}, "forbidden"),
    ({"kind": "error", "status": 404}, "not_found"),
    ({"kind": "error", "status": 401}, "unauthorized"),
    ({"kind": "malformed"}, "malformed"),
    ({"kind": "hang"}, "timeout"),
    ({"kind": "reset"}, "connection_error"),
]


@pytest.mark.parametrize(("fault", "reason"), OCTAVIA_FAULTS,
                         ids=[r for _, r in OCTAVIA_FAULTS])
async def test_octavia_failures_name_reason_endpoint_and_url(
        fault, reason, sim, control, make_exporter, log_buffer) -> None:
    await control.faults({**fault, "endpoint": "loadbalancers"})
    exporter = make_exporter(retries=0, request_timeout=0.5)
    metrics = await exporter.cycle()
    assert exporter.cycles == [False]
    url = sim.base_url + "/load-balancer/v2/lbaas/loadbalancers"
    token = exporter.clients[0].tokens.current
    assert_diagnosed(metrics, log_buffer, "simulator", "loadbalancers", reason, url,
                     (SIM_PASSWORD, *([token] if token else [])))


async def test_the_latest_error_replaces_the_previous_reason(sim, control, make_exporter,
                                                             log_buffer) -> None:
    exporter = make_exporter(retries=0)
    await control.faults({"kind": "error", "status": 500, "endpoint": "loadbalancers"})
    await exporter.cycle()
    await control.faults({"kind": "error", "status": 403, "endpoint": "loadbalancers"})
    metrics = await exporter.cycle()
    info = [labels for labels, value in metrics["octavia_last_error_info"]
            if labels["endpoint"] == "loadbalancers"]
    assert [i["reason"] for i in info] == ["forbidden"]
    assert one(metrics, "octavia_poll_errors_total", cloud="simulator",
               endpoint="loadbalancers", reason="server_error") == 1


async def test_cli_json_logs_are_json_on_every_line_when_keystone_is_closed(broken) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # unversioned: keystoneauth discovery logs too
    broken_clouds_yaml(broken, url)
    code, out, err = await run("--os-cloud", "broken", "--once", "--log.format", "json",
                               "--log.level", "debug", "--retries", "0",
                               env={"OS_CLIENT_CONFIG_FILE": str(broken)})
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # raises on any plain-text line
    # keystoneauth's own discovery warning came through structlog, as JSON with its logger.
    assert any(e.get("logger", "").startswith("keystoneauth") for e in parsed), parsed
    failed = [e for e in parsed if e["event"] == "poll_cycle_failed"]
    assert failed and failed[0]["endpoint"] == "keystone"
    assert failed[0]["reason"] == "connection_refused" and failed[0]["url"] == url
    metrics = parse_exposition(out)
    assert one(metrics, "octavia_last_error_info", cloud="broken", endpoint="keystone",
               reason="connection_refused") == 1
    assert PASSWORD not in out + err


async def test_a_missing_ca_bundle_names_setting_and_path(sim, tmp_path) -> None:
    missing = tmp_path / "no" / "ca.pem"
    code, out, err = await run("--os-cloud", "simulator", "--once", "--os-cacert", str(missing))
    assert code == 2 and out == ""
    assert f"cacert (--os-cacert / OS_CACERT / cacert): cannot read '{missing}': No such file " \
           "or directory" in err
    assert "Traceback" not in err


async def test_a_failing_status_tree_is_logged_with_its_url(sim, control, make_exporter,
                                                            log_buffer) -> None:
    await control.faults({"kind": "error", "status": 500, "endpoint": "loadbalancers/*/status",
                          "times": 1})
    exporter = make_exporter(retries=0)
    await exporter.cycle()
    assert exporter.cycles == [True]  # one status tree failing does not fail the cycle
    failed = [e for e in events(log_buffer) if e["event"] == "api_call_failed"]
    assert len(failed) == 1
    assert (failed[0]["endpoint"], failed[0]["reason"]) == ("loadbalancers/{id}/status",
                                                            "server_error")
    assert re.fullmatch(re.escape(sim.base_url) + r"/load-balancer/v2/lbaas/loadbalancers/"
                        r"[0-9a-f-]{36}/status", failed[0]["url"]), failed[0]["url"]
    assert exporter.counter("octavia_last_error_info", cloud="simulator",
                            endpoint="loadbalancers/{id}/status", reason="server_error") == 1


async def test_a_body_over_max_body_bytes_is_too_large_with_its_url(sim, make_exporter,
                                                                    log_buffer) -> None:
    # A page of five load balancers is a few kB: every bulk list is over 1 kB here.
    exporter = make_exporter(retries=0, max_body_bytes=1024)
    metrics = await exporter.cycle()
    assert exporter.cycles == [False]
    assert one(metrics, "octavia_up", cloud="simulator") == 0
    failed = [failed_cycle(log_buffer)]
    endpoint = failed[0]["endpoint"]
    assert failed[0]["reason"] == "too_large"
    assert failed[0]["url"] == f"{sim.base_url}/load-balancer/v2/lbaas/{endpoint}"
    assert one(metrics, "octavia_poll_errors_total", cloud="simulator", endpoint=endpoint,
               reason="too_large") == 1
    assert one(metrics, "octavia_last_error_info", cloud="simulator", endpoint=endpoint,
               reason="too_large") == 1
    # Every call that failed on the way (inventory lists too) names its own URL, no query.
    for event in failure_events(log_buffer):
        assert event["reason"] == "too_large", event
        assert event["url"].startswith(f"{sim.base_url}/load-balancer/v2"), event
        assert "?" not in event["url"]
    token = exporter.clients[0].tokens.current
    assert token and token not in log_buffer.getvalue()
    assert SIM_PASSWORD not in log_buffer.getvalue()


LB_ID = r"[0-9a-f-]{36}"
DETAIL_FAULTS = [
    # (fault, endpoint label, reason, the path after /load-balancer/v2/ as a pattern)
    ({"kind": "malformed", "endpoint": "listeners/*/stats"}, "listeners/{id}/stats",
     "malformed", rf"lbaas/listeners/{LB_ID}/stats"),
    ({"kind": "bad_objects", "endpoint": "listeners/*/stats"}, "listeners/{id}/stats",
     "malformed", rf"lbaas/listeners/{LB_ID}/stats"),
    ({"kind": "hang", "endpoint": "listeners/*/stats"}, "listeners/{id}/stats", "timeout",
     rf"lbaas/listeners/{LB_ID}/stats"),
    ({"kind": "malformed", "endpoint": "amphorae/*/stats"}, "amphorae/{id}/stats",
     "malformed", rf"octavia/amphorae/{LB_ID}/stats"),
    ({"kind": "error", "status": 500, "endpoint": "amphorae/*/stats"}, "amphorae/{id}/stats",
     "server_error", rf"octavia/amphorae/{LB_ID}/stats"),
    ({"kind": "bad_objects", "endpoint": "loadbalancers/*/status"},
     "loadbalancers/{id}/status", "malformed", rf"lbaas/loadbalancers/{LB_ID}/status"),
    ({"kind": "reset", "endpoint": "loadbalancers/*/status"}, "loadbalancers/{id}/status",
     "connection_error", rf"lbaas/loadbalancers/{LB_ID}/status"),
    ({"kind": "error", "status": 503, "endpoint": "loadbalancers/*/status"},
     "loadbalancers/{id}/status", "server_error", rf"lbaas/loadbalancers/{LB_ID}/status"),
]


@pytest.mark.parametrize(("fault", "endpoint", "reason", "path"), DETAIL_FAULTS,
                         ids=[f"{f['kind']}-{e}" for f, e, _, _ in DETAIL_FAULTS])
async def test_a_failing_detail_call_is_counted_and_logged_with_its_url(
        fault, endpoint, reason, path, sim, control, make_exporter, log_buffer) -> None:
    await control.faults(fault)
    # Listener stats calls are made where the amphorae cannot stand in for them.
    exporter = make_exporter(retries=0, request_timeout=0.5,
                             stats_via_amphorae=not endpoint.startswith("listeners/"))
    metrics = await exporter.cycle()
    await control.call("DELETE", "/_sim/faults")
    assert exporter.cycles == [True]  # the lists are fine: octavia_up stays 1
    failed = failure_events(log_buffer)
    assert failed and {e["event"] for e in failed} == {"api_call_failed"}
    for event in failed:
        assert (event["endpoint"], event["reason"]) == (endpoint, reason), event
        assert re.fullmatch(re.escape(f"{sim.base_url}/load-balancer/v2/") + path,
                            event["url"]), event
    assert one(metrics, "octavia_poll_errors_total", cloud="simulator", endpoint=endpoint,
               reason=reason) == len(failed)
    assert one(metrics, "octavia_last_error_info", cloud="simulator", endpoint=endpoint,
               reason=reason) == 1
    token = exporter.clients[0].tokens.current
    assert token and token not in log_buffer.getvalue()
    assert SIM_PASSWORD not in log_buffer.getvalue()


@pytest.mark.parametrize(("endpoint", "resource"), [
    ("loadbalancers", "loadbalancer"), ("l7policies", "l7policy"), ("flavors", None)])
async def test_malformed_objects_in_a_list_are_skipped_and_logged_with_the_url(
        sim, control, make_exporter, log_buffer, endpoint, resource) -> None:
    # The first page gains a string and an object without an id.
    await control.faults({"kind": "bad_objects", "endpoint": endpoint, "times": 1})
    exporter = make_exporter(retries=0)
    metrics = await exporter.cycle()
    assert exporter.cycles == [True]
    truth = await control.fleet()
    if resource is not None:
        assert one(metrics, "octavia_snapshot_objects", resource=resource) == len(
            truth[endpoint])
    skipped = [e for e in events(log_buffer) if e["event"] == "malformed_object"]
    assert len(skipped) == 2, skipped
    for event in skipped:
        assert (event["endpoint"], event["reason"], event["url"]) == (
            endpoint, "malformed", f"{sim.base_url}/load-balancer/v2/lbaas/{endpoint}")
    assert one(metrics, "octavia_poll_errors_total", cloud="simulator", endpoint=endpoint,
               reason="malformed") == 2
    assert one(metrics, "octavia_last_error_info", cloud="simulator", endpoint=endpoint,
               reason="malformed") == 1
    token = exporter.clients[0].tokens.current
    assert token and token not in log_buffer.getvalue()
    assert SIM_PASSWORD not in log_buffer.getvalue()


async def test_no_load_balancer_endpoint_in_the_catalog_is_keystone_s_auth(
        sim, tmp_path, log_buffer) -> None:
    path = tmp_path / "clouds.yaml"
    clouds = yaml.safe_load(path.read_text())
    clouds["clouds"]["broken"] = dict(clouds["clouds"]["simulator"], region_name="Atlantis")
    path.write_text(yaml.safe_dump(clouds))
    ok, metrics, _ = await one_cycle()
    assert not ok
    assert_diagnosed(metrics, log_buffer, "broken", "keystone", "auth",
                     sim.auth_url.rstrip("/"), (SIM_PASSWORD,))
    detail = failure_events(log_buffer)[0]["detail"]
    assert "no 'load-balancer' endpoint" in detail and "region Atlantis" in detail, detail


@pytest.mark.parametrize("where", ["closed_port", "dns", "tls", "timeout"])
async def test_octavia_transport_failures_with_keystone_up(
        where, sim, control, make_exporter, log_buffer, untrusted_tls_server,
        silent_server, loopback_resolver) -> None:
    # Keystone answers; its catalog names an Octavia that is not there.
    octavia, reason = {
        "closed_port": (f"http://127.0.0.1:{free_port()}/load-balancer", "connection_refused"),
        "dns": ("http://octavia.invalid:9876/load-balancer", "dns"),
        "tls": (f"https://127.0.0.1:{untrusted_tls_server}/load-balancer", "tls"),
        "timeout": (f"http://127.0.0.1:{silent_server}/load-balancer", "timeout"),
    }[where]
    await control.call("PUT", "/_sim/config", {"octavia_catalog_url": octavia})
    exporter = make_exporter(retries=0, request_timeout=0.5)
    metrics = await exporter.cycle()
    assert exporter.cycles == [False]
    assert one(metrics, "octavia_up", cloud="simulator") == 0
    failed = [failed_cycle(log_buffer)]
    endpoint = failed[0]["endpoint"]
    assert (failed[0]["reason"], failed[0]["url"]) == (reason, f"{octavia}/v2/lbaas/{endpoint}")
    assert one(metrics, "octavia_last_error_info", cloud="simulator", endpoint=endpoint,
               reason=reason) == 1
    for event in failure_events(log_buffer):  # the inventory lists failed the same way
        assert event["reason"] == reason and event["url"].startswith(octavia + "/v2"), event
    # Keystone itself was fine: nothing is blamed on it.
    assert not [s for s in metrics["octavia_poll_errors_total"] if s[0]["endpoint"] == "keystone"]
    token = exporter.clients[0].tokens.current
    assert token and token not in log_buffer.getvalue()
    assert SIM_PASSWORD not in log_buffer.getvalue()
    if where == "dns":  # answered on this machine (tests/support/network.py), never by a server
        assert "octavia.invalid" in loopback_resolver.looked_up


async def test_missing_tls_files_in_clouds_yaml_name_key_and_path(sim, tmp_path) -> None:
    path = tmp_path / "clouds.yaml"
    clouds = yaml.safe_load(path.read_text())
    files = {key: tmp_path / "no" / f"{key}.pem" for key in ("cacert", "cert", "key")}
    clouds["clouds"]["simulator"].update({k: str(v) for k, v in files.items()})
    path.write_text(yaml.safe_dump(clouds))
    code, out, err = await run("--os-cloud", "simulator", "--once")
    assert code == 2 and out == ""
    for key, where in (("cacert", "--os-cacert / OS_CACERT / cacert"), ("cert", "OS_CERT / cert"),
                       ("key", "OS_KEY / key")):
        assert f"cloud 'simulator': {key} ({where}): cannot read '{files[key]}': No such file " \
               "or directory" in err, err
    assert "Traceback" not in err and SIM_PASSWORD not in err


async def test_a_bad_web_config_exits_2_naming_key_path_and_fix(tmp_path) -> None:
    web = tmp_path / "web.yml"
    cert = tmp_path / "absent" / "tls.crt"
    web.write_text(yaml.safe_dump({
        "tls_server_config": {"cert_file": str(cert), "key_file": str(tmp_path / "tls.key"),
                              "client_auth_type": "RequestClientCert"},
        "http_server_config": {"http2": True}}))
    # Nothing starts: the demo cloud and the listener never come up.
    code, out, err = await run("--demo", "--web.config.file", str(web),
                               "--web.listen-address", f"127.0.0.1:{free_port()}")
    assert code == 2 and out == ""
    assert f"web_config_file: tls_server_config.cert_file: cannot read '{cert}': No such " \
           "file or directory" in err
    assert f"tls_server_config.key_file: cannot read '{tmp_path / 'tls.key'}'" in err
    assert "tls_server_config.client_auth_type: RequestClientCert accepts a client " \
           "certificate without verifying it" in err and "RequireAndVerifyClientCert" in err
    assert "http_server_config.http2: this exporter serves HTTP/1.1 only" in err
    assert "Traceback" not in err and "listening" not in err


@pytest.mark.parametrize(("fault", "reason"), [({"kind": "error", "status": 500}, "server_error"),
                                               ({"kind": "bad_objects"}, "malformed")],
                         ids=["500", "bad_objects"])
async def test_a_failed_refresh_names_reason_and_url(fault, reason, sim, control, make_exporter,
                                                     log_buffer) -> None:
    from exporter.model.parts import LoadBalancerEvent

    exporter = make_exporter(retries=0)
    await exporter.cycle()
    state = exporter.service.clouds[0]
    before = state.snapshot
    lb = (await control.fleet())["loadbalancers"][0]["id"]
    await control.faults({**fault, "endpoint": f"/v2/lbaas/loadbalancers/{lb}"})
    # The one step the refresher runs per notified load balancer.
    await state._refresh_one(LoadBalancerEvent("octavia.loadbalancer.update.end", lb, None))
    assert state.snapshot is before  # what the last cycle knew stays
    failed = [e for e in events(log_buffer) if e["event"] == "refresh_failed"]
    assert len(failed) == 1
    assert (failed[0]["endpoint"], failed[0]["reason"], failed[0]["url"],
            failed[0]["loadbalancer_id"]) == (
        "refresh", reason, f"{sim.base_url}/load-balancer/v2/lbaas/loadbalancers/{lb}", lb)
    assert exporter.counter("octavia_last_error_info", cloud="simulator", endpoint="refresh",
                            reason=reason) == 1
    token = exporter.clients[0].tokens.current
    assert token and token not in log_buffer.getvalue()
