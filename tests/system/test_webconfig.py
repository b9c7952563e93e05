"""Every key of exporter-toolkit's web configuration: applied with its meaning, checked with a
real TLS client on loopback, or refused at start-up naming the key. Certificates are made in
the test (tests/certs.py)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import bcrypt
import pytest
import yaml
from aiohttp import web

from exporter.web import middleware, webconfig
from exporter.web.server import build_app
from tests import certs
from tests.support.ports import free_port


@pytest.fixture
def made(tmp_path) -> certs.Certs:
    return certs.make(tmp_path)


@pytest.fixture
def write(tmp_path) -> Callable[[dict[str, Any]], str]:
    def writer(data: dict[str, Any]) -> str:
        path = tmp_path / "web.yml"
        path.write_text(yaml.safe_dump(data))
        return str(path)
    return writer


def tls(made: certs.Certs, **extra: Any) -> dict[str, Any]:
    return {"tls_server_config": {"cert_file": str(made.server.cert),
                                  "key_file": str(made.server.key), **extra}}


def refused(path: str) -> str:
    with pytest.raises(ValueError) as caught:
        webconfig.load(path)
    return str(caught.value)


@pytest.fixture
async def serve(make_exporter) -> AsyncIterator[Callable[..., Any]]:
    runners: list[web.AppRunner] = []
    exporter = make_exporter()

    async def start(config: webconfig.WebConfig) -> str:
        runner = web.AppRunner(build_app(exporter.service, exporter.exposition, config))
        await runner.setup()
        runners.append(runner)
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port, ssl_context=config.ssl_context).start()
        scheme = "https" if config.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


def client(made: certs.Certs, pair: certs.Pair | None = None, **options: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(made.ca))
    if pair is not None:
        context.load_cert_chain(pair.cert, pair.key)
    for name, value in options.items():
        if name == "ciphers":
            context.set_ciphers(value)
        elif name == "curve":
            context.set_ecdh_curve(value)
        else:
            with warnings.catch_warnings():
                # TLS 1.0/1.1 are deprecated, which is what the test checks is refused.
                warnings.simplefilter("ignore", DeprecationWarning)
                setattr(context, name, value)
    return context


async def get(url: str, context: ssl.SSLContext | None = None,
              auth: aiohttp.BasicAuth | None = None) -> tuple[int, dict[str, str], dict[str, Any]]:
    """Status, headers and what the TLS session negotiated, over one raw connection (so the
    TLS object is still there to ask)."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(
        parts.hostname, parts.port, ssl=context if parts.scheme == "https" else None)
    try:
        sslobj = writer.get_extra_info("ssl_object")
        negotiated = {"version": sslobj.version(), "cipher": sslobj.cipher()[0]} \
            if sslobj else {}
        request = f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
        if auth is not None:
            request += f"Authorization: {auth.encode()}\r\n"
        writer.write((request + "\r\n").encode())
        data = await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    if not data:
        raise ConnectionError("closed without an answer")
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), headers, negotiated


async def fails(url: str, context: ssl.SSLContext) -> None:
    with pytest.raises((ssl.SSLError, ConnectionError)):
        await get(url, context)


# ---- client_auth_type, client_ca_file / client_ca, client_allowed_sans ---------------------

async def test_no_client_cert(made, write, serve) -> None:
    url = await serve(webconfig.load(write(tls(made, client_auth_type="NoClientCert"))))
    assert (await get(url + "/metrics", client(made)))[0] == 200
    # A certificate offered anyway is not asked for, so it does not matter.
    assert (await get(url + "/metrics", client(made, made.stranger)))[0] == 200


async def test_verify_client_cert_if_given(made, write, serve) -> None:
    url = await serve(webconfig.load(write(tls(
        made, client_auth_type="VerifyClientCertIfGiven", client_ca_file=str(made.ca)))))
    assert (await get(url + "/metrics", client(made)))[0] == 200
    assert (await get(url + "/metrics", client(made, made.client)))[0] == 200
    await fails(url + "/metrics", client(made, made.stranger))


async def test_require_and_verify_client_cert(made, write, serve) -> None:
    url = await serve(webconfig.load(write(tls(
        made, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(made.ca)))))
    assert (await get(url + "/metrics", client(made, made.client)))[0] == 200
    await fails(url + "/metrics", client(made))
    await fails(url + "/metrics", client(made, made.stranger))


async def test_inline_cert_key_and_client_ca(made, write, serve) -> None:
    url = await serve(webconfig.load(write({"tls_server_config": {
        "cert": made.server.cert.read_text(), "key": made.server.key.read_text(),
        "client_auth_type": "RequireAndVerifyClientCert",
        "client_ca": made.ca.read_text()}})))
    assert (await get(url + "/metrics", client(made, made.client)))[0] == 200
    await fails(url + "/metrics", client(made, made.stranger))


@pytest.mark.parametrize("mode", ["RequestClientCert", "RequireAnyClientCert",
                                  "RequireClientCert"])
def test_unverified_client_cert_modes_are_refused_with_the_alternative(made, write,
                                                                        mode) -> None:
    message = refused(write(tls(made, client_auth_type=mode, client_ca_file=str(made.ca))))
    assert f"tls_server_config.client_auth_type: {mode} accepts a client certificate " \
           "without verifying it" in message
    assert "RequireAndVerifyClientCert" in message


def test_client_ca_without_client_auth_is_refused(made, write) -> None:
    message = refused(write(tls(made, client_ca_file=str(made.ca))))
    assert "client_auth_type is NoClientCert" in message


async def test_client_allowed_sans(made, write, serve) -> None:
    url = await serve(webconfig.load(write(tls(
        made, client_auth_type="RequireAndVerifyClientCert", client_ca_file=str(made.ca),
        client_allowed_sans=["spiffe://example/prometheus"]))))
    assert (await get(url + "/metrics", client(made, made.client)))[0] == 200
    status, _, _ = await get(url + "/metrics", client(made, made.other_client))
    assert status == 403
    message = refused(write(tls(made, client_auth_type="VerifyClientCertIfGiven",
                                client_ca_file=str(made.ca), client_allowed_sans=["x"])))
    assert "client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert" in message


# ---- min_version, max_version, cipher_suites, prefer_server_cipher_suites, curves ----------

async def test_min_and_max_version(made, write, serve) -> None:
    url = await serve(webconfig.load(write(tls(made, max_version="TLS12"))))
    assert (await get(url + "/metrics", client(made)))[2]["version"] == "TLSv1.2"
    url = await serve(webconfig.load(write(tls(made, min_version="TLS13"))))
    assert (await get(url + "/metrics", client(made)))[2]["version"] == "TLSv1.3"
    await fails(url + "/metrics", client(made, maximum_version=ssl.TLSVersion.TLSv1_2))
    # The default is exporter-toolkit's: TLS 1.2 at least.
    url = await serve(webconfig.load(write(tls(made))))
    await fails(url + "/metrics", client(made, minimum_version=ssl.TLSVersion.TLSv1,
                                         maximum_version=ssl.TLSVersion.TLSv1_1,
                                         ciphers="DEFAULT:@SECLEVEL=0"))
    assert "min_version: must be one of TLS10, TLS11, TLS12, TLS13, got 'TLS14'" in refused(
        write(tls(made, min_version="TLS14")))
    assert "min_version TLS13 is above max_version TLS12" in refused(
        write(tls(made, min_version="TLS13", max_version="TLS12")))


async def test_cipher_suites(made, write, serve) -> None:
    url = await serve(webconfig.load(write(tls(
        made, max_version="TLS12",
        cipher_suites=["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]))))
    assert (await get(url + "/metrics", client(made)))[2]["cipher"] == \
        "ECDHE-ECDSA-AES256-GCM-SHA384"
    await fails(url + "/metrics", client(made, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256"))
    assert "TLS_AES_128_GCM_SHA256 is a TLS 1.3 suite, which cannot be configured" in refused(
        write(tls(made, cipher_suites=["TLS_AES_128_GCM_SHA256"])))
    assert "cipher_suites: unknown cipher 'RC4'" in refused(
        write(tls(made, cipher_suites=["RC4"])))


@pytest.mark.parametrize(("prefer", "chosen"), [(True, "ECDHE-ECDSA-AES256-GCM-SHA384"),
                                                (False, "ECDHE-ECDSA-AES128-GCM-SHA256")])
async def test_prefer_server_cipher_suites(made, write, serve, prefer, chosen) -> None:
    url = await serve(webconfig.load(write(tls(
        made, max_version="TLS12", prefer_server_cipher_suites=prefer,
        cipher_suites=["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
                       "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"]))))
    offered = client(made, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384")
    assert (await get(url + "/metrics", offered))[2]["cipher"] == chosen


async def test_curve_preferences(made, write, serve) -> None:
    url = await serve(webconfig.load(write(tls(made, curve_preferences=["CurveP384"]))))
    assert (await get(url + "/metrics", client(made, curve="secp384r1")))[0] == 200
    await fails(url + "/metrics", client(made, curve="prime256v1"))
    assert "list exactly one" in refused(
        write(tls(made, curve_preferences=["CurveP256", "X25519"])))
    assert "unknown curve 'Curve25519'" in refused(
        write(tls(made, curve_preferences=["Curve25519"])))


# ---- http_server_config, rate_limit, basic_auth_users, files ------------------------------

async def test_headers_on_every_response(made, write, serve) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    headers = {"X-Frame-Options": "deny", "X-Content-Type-Options": "nosniff",
               "Content-Security-Policy": "default-src 'self'",
               "Strict-Transport-Security": "max-age=31536000", "X-XSS-Protection": "0"}
    url = await serve(webconfig.load(write({**tls(made), "basic_auth_users": {"u": hashed},
                                            "http_server_config": {"headers": headers,
                                                                   "http2": False}})))
    for path, auth, status in (("/metrics", aiohttp.BasicAuth("u", "pw"), 200),
                               ("/metrics", None, 401), ("/nope", aiohttp.BasicAuth("u", "pw"),
                                                         404), ("/", None, 401)):
        got, seen, _ = await get(url + path, client(made), auth=auth)
        assert got == status
        for name, value in headers.items():
            assert seen.get(name) == value, (path, name)
    message = refused(write({"http_server_config": {"headers": {
        "X-Frame-Options": "allow", "Server": "x"}, "http2": True}}))
    assert "headers.X-Frame-Options: must be one of deny, sameorigin, got 'allow'" in message
    assert "header 'Server' cannot be configured" in message
    assert "http_server_config.http2: this exporter serves HTTP/1.1 only" in message


async def test_rate_limit(write, serve) -> None:
    url = await serve(webconfig.load(write({"rate_limit": {"interval": "1h", "burst": 2}})))
    statuses = [(await get(url + "/healthz"))[0] for _ in range(3)]
    assert statuses[:2] != [429, 429] and statuses[2] == 429
    assert "rate_limit.interval: expected a duration" in refused(
        write({"rate_limit": {"interval": "often", "burst": 1}}))
    assert "rate_limit.burst: expected a whole number of at least 1" in refused(
        write({"rate_limit": {"interval": "1s", "burst": 0}}))


def test_rate_limit_refills_one_token_per_interval() -> None:
    now = [0.0]
    limit = middleware.RateLimit(2.0, 1, clock=lambda: now[0])
    assert limit.allow() and not limit.allow()
    now[0] = 1.9
    assert not limit.allow()
    now[0] = 4.0
    assert limit.allow()


def test_importing_the_web_modules_computes_no_hash() -> None:
    # bcrypt made to refuse: a module that hashed at import would fail to import.
    code = ("import bcrypt\n"
            "def refuse(*args, **kwargs):\n"
            "    raise AssertionError('bcrypt called at import')\n"
            "bcrypt.hashpw = bcrypt.gensalt = refuse\n"
            "import exporter.web.server, exporter.web.middleware, exporter.web.webconfig\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_durations() -> None:
    assert webconfig.parse_duration("1m30s") == 90.0
    assert webconfig.parse_duration("250ms") == 0.25
    assert webconfig.parse_duration("0") == 0.0
    assert webconfig.parse_duration("1 s") is None


async def test_relative_paths_are_relative_to_the_web_config_file(made, tmp_path,
                                                                   serve) -> None:
    path = tmp_path / "web.yml"
    path.write_text(yaml.safe_dump({"tls_server_config": {
        "cert_file": made.server.cert.name, "key_file": made.server.key.name}}))
    with contextlib.chdir("/"):
        config = webconfig.load(str(path))
    assert (await get(await serve(config) + "/metrics", client(made)))[0] == 200


def test_missing_and_bad_files_name_key_and_path(made, write, tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "server.crt"
    message = refused(write(tls(made, cert_file=str(missing))))
    assert f"tls_server_config.cert_file: cannot read '{missing}': No such file or " \
           "directory" in message
    message = refused(write(tls(made, client_auth_type="RequireAndVerifyClientCert",
                                client_ca_file=str(tmp_path / "ca-missing.pem"))))
    assert f"tls_server_config.client_ca_file: cannot read '{tmp_path / 'ca-missing.pem'}'" \
        in message
    message = refused(write(tls(made, key_file=str(made.client.key))))
    assert "not a matching PEM certificate and key" in message
    assert str(made.client.key) in message
    assert "TLS needs cert_file (or cert)" in refused(
        write({"tls_server_config": {"min_version": "TLS13"}}))
    assert "set cert_file or cert, not both" in refused(
        write(tls(made, cert=made.server.cert.read_text())))
    assert "tls_server_config: unknown key 'ciphers'" in refused(
        write(tls(made, ciphers=["x"])))
