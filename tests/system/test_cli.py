"""The command line as an operator uses it: real processes, real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import aiohttp
import pytest

from tests.support.cli import EXPORTER, run
from tests.support.exposition import one, parse_exposition
from tests.support.ports import free_port


@pytest.mark.slow
async def test_once_prints_every_family_and_exits_0(sim, control) -> None:
    code, out, err = await run("--os-cloud", "simulator", "--once")
    assert code == 0, err
    metrics = parse_exposition(out)
    truth = await control.fleet()
    assert one(metrics, "octavia_snapshot_objects", resource="member") == len(truth["members"])
    assert len(metrics["octavia_member_operating_status"]) == len(truth["members"])
    for family in ("octavia_loadbalancer_provisioning_status", "octavia_listener_stats_bytes_in_total",
                   "octavia_pool_info", "octavia_healthmonitor_operating_status",
                   "octavia_amphora_cert_expiration_timestamp_seconds",
                   "octavia_api_requests_total", "octavia_exporter_build_info"):
        assert metrics.get(family), family
    assert "admin-secret" not in out + err


async def test_once_exits_1_when_the_api_is_down(sim) -> None:
    await sim.stop()
    code, out, err = await run("--os-cloud", "simulator", "--once", "--retries", "0",
                               "--request-timeout", "2")
    assert code == 1
    assert one(parse_exposition(out), "octavia_up", cloud="simulator") == 0
    assert "poll_cycle_failed" in err


async def test_bad_configuration_exits_2_naming_each_setting(tmp_path) -> None:
    config = tmp_path / "exporter.yaml"
    config.write_text("interval: soon\nconcurency: 4\n")
    code, out, err = await run("--config-file", str(config), "--status-series", "all",
                               env={"OCTAVIA_EXPORTER_RETRIES": "-2"})
    assert code == 2 and out == ""
    assert "interval (config file" in err and "expected a number" in err
    assert "unknown setting 'concurency'" in err and "did you mean 'concurrency'" in err
    assert "status_series (flag --status-series): must be one of current, stateset" in err
    assert "retries (env OCTAVIA_EXPORTER_RETRIES): must be at least 0" in err


async def test_unknown_cloud_exits_2_and_lists_the_known_ones(sim) -> None:
    code, _, err = await run("--os-cloud", "nosuchcloud", "--once")
    assert code == 2
    assert "nosuchcloud" in err and "simulator" in err


async def test_no_cloud_at_all_exits_2_with_the_fix(monkeypatch, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["OS_CLIENT_CONFIG_FILE"] = str(tmp_path / "absent.yaml")
    env["HOME"] = str(tmp_path)
    process = await asyncio.create_subprocess_exec(
        *EXPORTER, "--once", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=env)
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 2
    assert b"auth_url" in err and b"--demo" in err and b"Traceback" not in err


async def wait_ready(url: str, deadline: float) -> None:
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert time.monotonic() < deadline, f"{url} never became ready"
            await asyncio.sleep(0.1)


async def test_demo_serves_metrics_and_stops_cleanly_on_sigterm() -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *EXPORTER, "--demo", "--demo-lbs", "10", "--web.listen-address", f"127.0.0.1:{port}",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await wait_ready(f"http://127.0.0.1:{port}/readyz", time.monotonic() + 60)
        async with aiohttp.ClientSession() as http, http.get(
                f"http://127.0.0.1:{port}/metrics") as response:
            metrics = parse_exposition(await response.text())
        if one(metrics, "octavia_up", cloud="simulator") != 1:
            process.kill()
            _, err = await process.communicate()
            raise AssertionError(err.decode()[-3000:])
        assert one(metrics, "octavia_snapshot_objects", resource="loadbalancer") == 10
        # Its own simulator has no other client to leave room for: tier 1 every 10 s, never
        # stretched to keep within --lists-share.
        assert one(metrics, "octavia_poll_interval_seconds", cloud="simulator") == 10.0
        process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 15)
        assert process.returncode == 0, err.decode()
        assert b"shutting_down" in err
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_sigterm_cancels_an_in_flight_cycle_within_bounds(sim, control) -> None:
    await control.faults({"kind": "hang", "endpoint": "loadbalancers"})
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *EXPORTER, "--os-cloud", "simulator", "--web.listen-address", f"127.0.0.1:{port}",
        "--request-timeout", "60", "--cycle-timeout", "120",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await wait_ready(f"http://127.0.0.1:{port}/healthz", time.monotonic() + 60)
        deadline = time.monotonic() + 30
        while sim.faults.hanging == 0:  # the cycle is now stuck inside a request
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 15)
        assert process.returncode == 0, err.decode()[-2000:]
        assert time.monotonic() - started < 12
    finally:
        await control.call("DELETE", "/_sim/faults")
        if process.returncode is None:
            process.kill()
            await process.wait()
