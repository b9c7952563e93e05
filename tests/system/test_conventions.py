"""Prometheus exporter conventions: --version, --log.level/--log.format (old spellings kept
with a warning), allowed values in --help, --web.telemetry-path, and ':port' listening on
IPv4 and IPv6."""

from __future__ import annotations

import json
import re
import socket

import aiohttp
import pytest
from aiohttp import web

from exporter import config
from exporter.web.server import ServerThread, build_app
from tests.support.cli import run
from tests.support.exposition import one, parse_exposition
from tests.support.ports import free_port


async def test_version_prints_the_prometheus_style_line_and_exits_0() -> None:
    code, out, err = await run("--version")
    assert code == 0, err
    assert re.fullmatch(r"octavia-exporter, version \S+ \(python 3\.\d+\.\d+\)\n", out), out


async def test_help_names_every_allowed_value_and_hides_old_spellings() -> None:
    code, out, _ = await run("--help")
    assert code == 0
    flat = " ".join(out.split())
    for option in config.OPTIONS:
        if option.choices:
            assert "{" + ",".join(option.choices) + "}" in flat, option.flag
            assert "one of: " + ", ".join(option.choices) in flat, option.flag
    for flag in ("--log.level", "--log.format", "--web.telemetry-path", "--version"):
        assert flag in out
    assert "--log-level" not in out and "--log-format" not in out


@pytest.mark.slow
async def test_old_log_flags_still_work_with_a_deprecation_warning(sim) -> None:
    code, _, err = await run("--os-cloud", "simulator", "--once", "--log-level", "debug",
                             "--log-format", "json")
    assert code == 0, err
    events = [json.loads(line) for line in err.splitlines() if line.strip()]
    warnings = [e["message"] for e in events if e["event"] == "deprecated_flag"]
    assert any("--log-level is deprecated" in w and "--log.level" in w for w in warnings)
    assert any("--log-format is deprecated" in w for w in warnings)
    assert any(e["level"] == "debug" for e in events)  # the old spelling still took effect


def test_new_flag_wins_over_the_old_spelling() -> None:
    settings = config.load(["--log-level", "debug", "--log.level", "error"], environ={})
    assert settings.log_level == "error" and settings.deprecations


def test_telemetry_path_is_validated() -> None:
    assert config.load(["--web.telemetry-path", "/x/metrics"], environ={}).telemetry_path == \
        "/x/metrics"
    for bad in ("metrics", "/healthz", "/", "/a b"):
        with pytest.raises(config.ConfigError) as caught:
            config.load(["--web.telemetry-path", bad], environ={})
        assert "telemetry_path (flag --web.telemetry-path)" in str(caught.value)


async def test_metrics_are_served_on_the_telemetry_path(make_exporter) -> None:
    exporter = make_exporter()
    await exporter.cycle()
    runner = web.AppRunner(build_app(exporter.service, exporter.exposition,
                                     telemetry_path="/custom/metrics"))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/custom/metrics") as response:
                assert response.status == 200
                assert one(parse_exposition(await response.text()), "octavia_up",
                           cloud="simulator") == 1
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 404
            async with http.get(f"http://127.0.0.1:{port}/") as response:
                assert 'href="/custom/metrics"' in await response.text()
    finally:
        await runner.cleanup()


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_default_listen_address_serves_ipv4_and_ipv6(make_exporter) -> None:
    # ":port" (the default host "") is every interface of both families; connect over each
    # family's loopback only.
    exporter = make_exporter()
    port = free_port()
    server = ServerThread(build_app(exporter.service, exporter.exposition), "", port)
    server.start()
    try:
        families = {socket.AF_INET: "127.0.0.1"}
        if _has_ipv6_loopback():
            families[socket.AF_INET6] = "::1"
        assert len(server.addresses) == len(families), server.addresses
        for family, host in families.items():
            with socket.create_connection((host, port), timeout=5) as conn:
                assert conn.family == family
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                assert conn.recv(64).startswith(b"HTTP/1.1 503"), host  # loop not started
    finally:
        server.stop()
