"""`octavia-exporter healthcheck` against a real exporter process on loopback."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

import bcrypt
import pytest

from exporter.web import healthcheck
from tests.support.cli import EXPORTER, run
from tests.support.ports import free_port


@pytest.fixture
def tls_web_config(tmp_path: Path) -> Path:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=exporter.example", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    path = tmp_path / "web.yml"
    path.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
                    f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    return path


async def healthy_within(args: list[str], deadline: float) -> tuple[int, str, str]:
    while True:
        code, out, err = await run("healthcheck", *args)
        if code == 0 or time.monotonic() > deadline:
            return code, out, err
        await asyncio.sleep(0.2)


@pytest.mark.slow
async def test_follows_the_servers_port_tls_and_auth(sim, tls_web_config) -> None:
    port = free_port()
    server_args = ["--os-cloud", "simulator", "--web.listen-address", f"127.0.0.1:{port}",
                   "--web.config.file", str(tls_web_config)]
    process = await asyncio.create_subprocess_exec(
        *EXPORTER, *server_args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        code, out, err = await healthy_within(server_args, time.monotonic() + 60)
        assert code == 0, err
        assert out.startswith(f"https://127.0.0.1:{port}/healthz: 200")
        # The same answer from the settings of the running process alone.
        code, out, err = await run("healthcheck", "--args-from-pid", str(process.pid))
        assert code == 0, err
        # Through the environment, as a container passes settings to both processes.
        code, _, err = await run(
            "healthcheck", env={"OCTAVIA_EXPORTER_LISTEN_ADDRESS": f"127.0.0.1:{port}",
                                "OCTAVIA_EXPORTER_WEB_CONFIG_FILE": str(tls_web_config)})
        assert code == 0, err
        # Plain HTTP against the TLS port is not healthy: the check really uses the web config.
        code, _, err = await run("healthcheck", "--web.listen-address", f"127.0.0.1:{port}")
        assert code == 1 and f"http://127.0.0.1:{port}/healthz" in err
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 15)
    code, _, err = await run("healthcheck", *server_args)
    assert code == 1 and "Connection refused" in err


async def test_invalid_settings_exit_2_naming_the_setting(tmp_path) -> None:
    code, _, err = await run("healthcheck", "--web.listen-address", "nine")
    assert code == 2 and "listen_address (flag --web.listen-address)" in err
    code, _, err = await run("healthcheck", "--web.config.file", str(tmp_path / "absent.yml"))
    assert code == 2 and "web_config_file" in err


def test_args_of_a_process_from_its_cmdline(tmp_path) -> None:
    (tmp_path / "1").mkdir()
    (tmp_path / "1" / "cmdline").write_bytes(
        b"/opt/octavia-exporter/bin/python3\0/opt/octavia-exporter/bin/octavia-exporter\0"
        b"--web.listen-address\0:9443\0")
    assert healthcheck.exporter_args_of(1, tmp_path) == ["--web.listen-address", ":9443"]
    (tmp_path / "2").mkdir()
    (tmp_path / "2" / "cmdline").write_bytes(b"/bin/sh\0-c\0sleep 1\0")
    with pytest.raises(ValueError, match="not octavia-exporter"):
        healthcheck.exporter_args_of(2, tmp_path)


def test_wildcard_listen_addresses_are_probed_on_loopback() -> None:
    from exporter import config

    assert healthcheck.target(config.load(["--web.listen-address", ":9443"], {})) == (
        "127.0.0.1", 9443)
    assert healthcheck.target(config.load(["--web.listen-address", "[::]:9"], {})) == ("::1", 9)
    assert healthcheck.target(config.load([], {}))[1] == config.DEFAULT_PORT
