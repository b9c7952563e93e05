"""TLS and basic auth for our own endpoints, from a Prometheus-style web configuration file.

The format is the exporter-toolkit one every Prometheus exporter reads (`--web.config.file`):
`tls_server_config` (cert_file, key_file, client_ca_file, client_auth_type, min_version) and
`basic_auth_users` (user: bcrypt hash), so operators reuse the files they already have.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ssl
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import yaml
from aiohttp import web

CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "RequestClientCert": ssl.CERT_OPTIONAL,
    "RequireAnyClientCert": ssl.CERT_REQUIRED,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# Probes (kubelet, Docker HEALTHCHECK) rarely carry credentials, and these reveal nothing.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
TOP_KEYS = {"tls_server_config", "basic_auth_users", "http_server_config"}
TLS_KEYS = {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version",
            "max_version", "cipher_suites", "curve_preferences", "prefer_server_cipher_suites"}
# A hash of a random password: unknown users are checked against it so that a wrong user name
# costs as long as a wrong password and user names cannot be probed by timing.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-user", bcrypt.gensalt(rounds=10))


@dataclass
class WebConfig:
    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)


def load(path: str) -> WebConfig:
    """Parse and check the file; raise ValueError listing every problem with its key."""
    problems: list[str] = []
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise ValueError(f"web_config_file: cannot read {path!r}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"web_config_file: {path!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ValueError(f"web_config_file: {path!r} must be a mapping")
    for key in data:
        if key not in TOP_KEYS:
            problems.append(f"web_config_file: unknown key '{key}' (valid: "
                            f"{', '.join(sorted(TOP_KEYS))})")
    config = WebConfig()
    users = data.get("basic_auth_users") or {}
    if not isinstance(users, Mapping):
        problems.append("web_config_file: basic_auth_users must map user names to bcrypt hashes")
        users = {}
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            problems.append(f"web_config_file: basic_auth_users.{user}: not a bcrypt hash "
                            "(generate one with: htpasswd -nBC 10 '' | tr -d ':\\n')")
            continue
        config.users[str(user)] = hashed.encode()
    tls = data.get("tls_server_config")
    if tls:
        config.ssl_context = _tls_context(tls, problems)
    if problems:
        raise ValueError("\n".join(problems))
    return config


def _tls_context(tls: Any, problems: list[str]) -> ssl.SSLContext | None:
    if not isinstance(tls, Mapping):
        problems.append("web_config_file: tls_server_config must be a mapping")
        return None
    for key in tls:
        if key not in TLS_KEYS:
            problems.append(f"web_config_file: tls_server_config: unknown key '{key}'")
    cert, key = tls.get("cert_file"), tls.get("key_file")
    if not cert or not key:
        problems.append("web_config_file: tls_server_config needs both cert_file and key_file")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        problems.append(f"web_config_file: tls_server_config cert_file/key_file: {exc}")
        return None
    auth_type = str(tls.get("client_auth_type") or "NoClientCert")
    if auth_type not in CLIENT_AUTH:
        problems.append(f"web_config_file: tls_server_config.client_auth_type: must be one of "
                        f"{', '.join(CLIENT_AUTH)}, got {auth_type!r}")
    else:
        context.verify_mode = CLIENT_AUTH[auth_type]
    client_ca = tls.get("client_ca_file")
    if client_ca:
        try:
            context.load_verify_locations(cafile=str(client_ca))
        except (OSError, ssl.SSLError) as exc:
            problems.append(f"web_config_file: tls_server_config.client_ca_file: {exc}")
    elif auth_type in ("RequireAndVerifyClientCert", "VerifyClientCertIfGiven"):
        problems.append(f"web_config_file: tls_server_config.client_ca_file is required with "
                        f"client_auth_type {auth_type}")
    min_version = tls.get("min_version")
    if min_version:
        if min_version not in TLS_VERSIONS:
            problems.append(f"web_config_file: tls_server_config.min_version: must be one of "
                            f"{', '.join(TLS_VERSIONS)}, got {min_version!r}")
        else:
            context.minimum_version = TLS_VERSIONS[min_version]
    return context


class BasicAuth:
    """aiohttp middleware; successful checks are cached by a keyed digest so a scrape every few
    seconds does not cost a bcrypt computation each time."""

    def __init__(self, users: Mapping[str, bytes]) -> None:
        self._users = dict(users)
        self._key = bcrypt.gensalt()
        self._verified: set[bytes] = set()

    async def check(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode(
                "utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        if not sep:
            return False
        digest = hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        if digest in self._verified:
            return True
        hashed = self._users.get(user, _DUMMY_HASH)
        ok = await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed)
        if ok and user in self._users:
            if len(self._verified) > 1024:
                self._verified.clear()
            self._verified.add(digest)
            return True
        return False

    @web.middleware
    async def middleware(
        self, request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if request.path in OPEN_PATHS or await self.check(request.headers.get("Authorization", "")):
            return await handler(request)
        return web.Response(status=401, text="Unauthorized\n",
                            headers={"WWW-Authenticate": 'Basic realm="octavia-exporter"'})
