"""The HTTP side: content negotiation, probes, TLS and basic auth from a web config file."""

from __future__ import annotations

import contextlib
import gzip
import ssl
import subprocess
import time
import zlib

import aiohttp
import bcrypt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_om

from exporter.web import middleware, webconfig
from exporter.web.server import build_app
from tests.support.exposition import parse_exposition
from tests.support.ports import free_port


async def test_metrics_negotiates_format_and_compression(make_exporter) -> None:
    exporter = make_exporter()
    async with TestClient(TestServer(build_app(exporter.service, exporter.exposition))) as client:
        response = await client.get("/readyz")
        assert response.status == 503  # no cycle yet
        await exporter.cycle()
        assert (await client.get("/readyz")).status == 200

        plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
        assert plain.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert "Content-Encoding" not in plain.headers
        text = await plain.text()

        zipped = await client.get("/metrics", headers={"Accept-Encoding": "gzip"},
                                  auto_decompress=False)
        assert zipped.headers["Content-Encoding"] == "gzip"
        raw = await zipped.read()
        # One gzip member: clients that stop after the first member must still get everything.
        single = zlib.decompressobj(31)
        whole = single.decompress(raw).decode()
        assert single.eof and not single.unused_data
        assert whole.endswith(text[text.rindex("# HELP octavia_detail_age_target_seconds"):])
        assert parse_exposition(gzip.decompress(raw).decode()).keys() == \
            parse_exposition(text).keys()

        om = await client.get("/metrics", headers={
            "Accept": "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
            "Accept-Encoding": "gzip"})
        assert om.headers["Content-Type"].startswith("application/openmetrics-text")
        om_text = await om.text()
        assert om_text.endswith("# EOF\n")
        families = {f.name: f.type for f in parse_om(om_text)}
        assert families["octavia_loadbalancer"] == "info"
        assert families["octavia_loadbalancer_stats_bytes_in"] == "counter"

        landing = await client.get("/")
        assert "simulator" in await landing.text()


async def test_healthz_reports_a_dead_poll_loop(make_exporter) -> None:
    exporter = make_exporter()
    async with TestClient(TestServer(build_app(exporter.service, exporter.exposition))) as client:
        assert (await client.get("/healthz")).status == 503  # not started
        await exporter.service.start()
        assert (await client.get("/healthz")).status == 200
        for task in exporter.service._tasks:
            task.cancel()
        await exporter.service.wait_cycles(0, timeout=5)
        for task in exporter.service._tasks:
            with contextlib.suppress(BaseException):
                await task
        assert (await client.get("/healthz")).status == 503


@pytest.fixture
def tls_files(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


async def test_tls_and_basic_auth_from_web_config(make_exporter, tls_files, tmp_path) -> None:
    cert, key = tls_files
    hashed = bcrypt.hashpw(b"s3cret-pass", bcrypt.gensalt(rounds=4)).decode()
    config_path = tmp_path / "web.yml"
    config_path.write_text(
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    config = webconfig.load(str(config_path))
    exporter = make_exporter()
    await exporter.cycle()
    app = build_app(exporter.service, exporter.exposition, config)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=config.ssl_context).start()
    client_ssl = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/metrics", ssl=client_ssl) as r:
                assert r.status == 401 and "Basic" in r.headers["WWW-Authenticate"]
            wrong = aiohttp.BasicAuth("prometheus", "nope")
            async with http.get(url + "/metrics", ssl=client_ssl, auth=wrong) as r:
                assert r.status == 401
            unknown = aiohttp.BasicAuth("nobody", "s3cret-pass")
            async with http.get(url + "/metrics", ssl=client_ssl, auth=unknown) as r:
                assert r.status == 401
            right = aiohttp.BasicAuth("prometheus", "s3cret-pass")
            for _ in range(2):  # the second one is served from the verified cache
                async with http.get(url + "/metrics", ssl=client_ssl, auth=right) as r:
                    assert r.status == 200
                    assert "octavia_up" in await r.text()
            # Every path but the probes is protected: a kubelet probe or a container
            # HEALTHCHECK cannot log in, and the probes say no more than "ok".
            async with http.get(url + "/", ssl=client_ssl) as r:
                assert r.status == 401
            # A cycle ran (ready) but the poll loops were never started (not alive).
            for path, status in (("/healthz", 503), ("/readyz", 200)):
                async with http.get(url + path, ssl=client_ssl) as r:
                    assert r.status == status, path
            with pytest.raises(aiohttp.ClientError):
                async with http.get(f"http://127.0.0.1:{port}/metrics"):
                    pass
    finally:
        await runner.cleanup()


async def test_unknown_user_costs_a_bcrypt_like_a_wrong_password() -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=10))
    auth = middleware.BasicAuth({"user": hashed})

    async def timed(user: str) -> float:
        header = "Basic " + __import__("base64").b64encode(f"{user}:wrong".encode()).decode()
        started = time.perf_counter()
        assert not await auth.check(header)
        return time.perf_counter() - started

    known = min([await timed("user") for _ in range(3)])
    unknown = min([await timed("ghost") for _ in range(3)])
    # Both paths run one bcrypt of the same cost; a missing dummy check would be ~1000x faster.
    assert unknown > known / 5


def test_web_config_errors_name_the_key(tmp_path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("tls_server_config:\n  cert_file: /nonexistent\n  key_file: /nonexistent\n"
                    "  client_auth_type: Maybe\nbasic_auth_users:\n  a: plaintext\nextra: 1\n")
    with pytest.raises(ValueError) as caught:
        webconfig.load(str(path))
    message = str(caught.value)
    assert "unknown key 'extra'" in message
    assert "basic_auth_users.a: not a bcrypt hash" in message
    # A missing file names its key and its path.
    assert "tls_server_config.cert_file: cannot read '/nonexistent': No such file" in message
    assert "tls_server_config.key_file: cannot read '/nonexistent': No such file" in message
    assert "client_auth_type: must be one of" in message
