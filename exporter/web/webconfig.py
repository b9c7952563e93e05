"""TLS, client certificates, basic auth, response headers and a request rate limit for our own
endpoints, from a Prometheus web configuration file (`--web.config.file`).

The format and the meaning of every key are the Prometheus exporter-toolkit's
(docs/web-configuration.md there), so operators reuse the files they already have. Where
Python's ssl module cannot do what a key means, the key is refused at start-up with a message
saying why and what to use instead: a setting is never accepted and then ignored.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import re
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import yaml
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

PREFIX = "web_config_file"
TOP_KEYS = ("tls_server_config", "http_server_config", "basic_auth_users", "rate_limit")
TLS_KEYS = ("cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type",
            "client_ca_file", "client_allowed_sans", "min_version", "max_version",
            "cipher_suites", "prefer_server_cipher_suites", "curve_preferences")
HTTP_KEYS = ("http2", "headers")
RATE_KEYS = ("interval", "burst")

# What Python's ssl can do for each exporter-toolkit client_auth_type. Go's RequestClientCert
# and RequireAnyClientCert take a client certificate WITHOUT verifying it; OpenSSL through
# Python's ssl always verifies a certificate it asks for, so those two are refused rather than
# silently turned into something stricter or weaker.
VERIFYING = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
UNVERIFIED = ("RequestClientCert", "RequireAnyClientCert", "RequireClientCert")
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
# Go's crypto/tls names (tls.CipherSuites()) for TLS 1.0-1.2, with OpenSSL's name for each.
CIPHERS = {
    "TLS_RSA_WITH_AES_128_CBC_SHA": "AES128-SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA": "AES256-SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256": "AES128-GCM-SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384": "AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA": "ECDHE-ECDSA-AES128-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA": "ECDHE-ECDSA-AES256-SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA": "ECDHE-RSA-AES128-SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA": "ECDHE-RSA-AES256-SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256": "ECDHE-ECDSA-AES128-GCM-SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256": "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384": "ECDHE-ECDSA-AES256-GCM-SHA384",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384": "ECDHE-RSA-AES256-GCM-SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-ECDSA-CHACHA20-POLY1305",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256": "ECDHE-RSA-CHACHA20-POLY1305",
}
# Named by Go but not configurable there either (TLS 1.3 suites are fixed); listing one would
# be accepted and ignored by exporter-toolkit, so it is refused here.
TLS13_CIPHERS = ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                 "TLS_CHACHA20_POLY1305_SHA256")
CURVES = {"CurveP256": "prime256v1", "CurveP384": "secp384r1", "CurveP521": "secp521r1",
          "X25519": "X25519"}
# exporter-toolkit's fixed set of settable response headers, with their allowed values.
HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w|y)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
         "d": 86400.0, "w": 604800.0, "y": 31536000.0}
# A hash of a random password: unknown users are checked against it so that a wrong user name
# costs as long as a wrong password and user names cannot be probed by timing.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-user", bcrypt.gensalt(rounds=10))


@dataclass
class WebConfig:
    ssl_context: ssl.SSLContext | None = None
    users: dict[str, bytes] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # Client certificates must carry one of these SANs (exact match), when set.
    allowed_sans: tuple[str, ...] | None = None
    # (seconds between requests, burst), when set.
    rate_limit: tuple[float, int] | None = None

    def middlewares(self) -> list[Middleware]:
        """In exporter-toolkit's order: rate limit, then client-certificate SANs, then basic
        auth. Every path is behind them, the probes included, as in exporter-toolkit."""
        found: list[Middleware] = []
        if self.rate_limit is not None:
            found.append(RateLimit(*self.rate_limit).middleware)
        if self.allowed_sans is not None:
            found.append(AllowedSans(self.allowed_sans).middleware)
        if self.users:
            found.append(BasicAuth(self.users).middleware)
        return found

    async def add_headers(self, _: web.Request, response: web.StreamResponse) -> None:
        """An on_response_prepare hook: every response, errors and 401s included."""
        for name, value in self.headers.items():
            response.headers[name] = value


def load(path: str) -> WebConfig:
    """Parse and check the file; raise ValueError listing every problem with its key."""
    problems: list[str] = []
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise ValueError(f"{PREFIX}: cannot read {path!r}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{PREFIX}: {path!r} is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ValueError(f"{PREFIX}: {path!r} must be a mapping")
    _unknown(data, TOP_KEYS, "", problems)
    config = WebConfig()
    config.users = _users(data.get("basic_auth_users"), problems)
    http = _section(data, "http_server_config", HTTP_KEYS, problems)
    if http.get("http2") is True:
        problems.append(f"{PREFIX}: http_server_config.http2: this exporter serves HTTP/1.1 "
                        "only (aiohttp has no HTTP/2); remove the key or set it to false")
    elif "http2" in http and http["http2"] is not False:
        problems.append(f"{PREFIX}: http_server_config.http2: expected true or false, got "
                        f"{http['http2']!r}")
    config.headers = _headers(http.get("headers"), problems)
    rate = _section(data, "rate_limit", RATE_KEYS, problems)
    if rate:
        config.rate_limit = _rate_limit(rate, problems)
    tls = _section(data, "tls_server_config", TLS_KEYS, problems)
    if tls:
        base = os.path.dirname(os.path.abspath(path))
        config.ssl_context, config.allowed_sans = _tls(tls, base, problems)
    if problems:
        raise ValueError("\n".join(problems))
    return config


def _unknown(data: Mapping[Any, Any], valid: Sequence[str], where: str,
             problems: list[str]) -> None:
    for key in data:
        if key not in valid:
            problems.append(f"{PREFIX}: {where}unknown key '{key}' (valid: "
                            f"{', '.join(valid)})")


def _section(data: Mapping[str, Any], name: str, keys: Sequence[str],
             problems: list[str]) -> Mapping[str, Any]:
    section = data.get(name)
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        problems.append(f"{PREFIX}: {name} must be a mapping")
        return {}
    _unknown(section, keys, f"{name}: ", problems)
    return section


def _users(users: Any, problems: list[str]) -> dict[str, bytes]:
    if users is None:
        return {}
    if not isinstance(users, Mapping):
        problems.append(f"{PREFIX}: basic_auth_users must map user names to bcrypt hashes")
        return {}
    found: dict[str, bytes] = {}
    for user, hashed in users.items():
        if not isinstance(hashed, str) or not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            problems.append(f"{PREFIX}: basic_auth_users.{user}: not a bcrypt hash "
                            "(generate one with: htpasswd -nBC 10 '' | tr -d ':\\n')")
            continue
        found[str(user)] = hashed.encode()
    return found


def _headers(headers: Any, problems: list[str]) -> dict[str, str]:
    if headers is None:
        return {}
    where = f"{PREFIX}: http_server_config.headers"
    if not isinstance(headers, Mapping):
        problems.append(f"{where} must map header names to values")
        return {}
    found: dict[str, str] = {}
    for name, value in headers.items():
        if name not in HEADERS:
            problems.append(f"{where}: header {name!r} cannot be configured (valid: "
                            f"{', '.join(HEADERS)})")
        elif not isinstance(value, str):
            problems.append(f"{where}.{name}: expected a string, got {value!r}")
        elif HEADERS[name] and value not in HEADERS[name]:
            problems.append(f"{where}.{name}: must be one of {', '.join(HEADERS[name])}, got "
                            f"{value!r}")
        elif value:  # blank means unset, as in exporter-toolkit
            found[name] = value
    return found


def parse_duration(text: str) -> float | None:
    """A Go/Prometheus duration ("500ms", "1m30s", "0") in seconds, or None if malformed."""
    text = text.strip()
    if text == "0":
        return 0.0
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def _rate_limit(rate: Mapping[str, Any], problems: list[str]) -> tuple[float, int] | None:
    where = f"{PREFIX}: rate_limit"
    interval = parse_duration(str(rate.get("interval", "0")))
    if interval is None:
        problems.append(f"{where}.interval: expected a duration such as 100ms or 1s, got "
                        f"{rate.get('interval')!r}")
        return None
    burst = rate.get("burst", 0)
    if interval == 0:
        return None  # 0 disables the limiter, as documented
    if not isinstance(burst, int) or isinstance(burst, bool) or burst < 1:
        problems.append(f"{where}.burst: expected a whole number of at least 1 (with burst 0 "
                        f"every request would be refused), got {burst!r}")
        return None
    return interval, burst


def _read(tls: Mapping[str, Any], key: str, base: str, problems: list[str]) -> str | None:
    """The path of a file key, joined to the web config file's directory like
    exporter-toolkit does, checked to be readable, with the key and path in any message."""
    value = tls.get(key)
    if not value:
        return None
    path = os.path.join(base, str(value))
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        problems.append(f"{PREFIX}: tls_server_config.{key}: cannot read {path!r}: "
                        f"{exc.strerror}")
        return None
    return path


def _tls(tls: Mapping[str, Any], base: str,
         problems: list[str]) -> tuple[ssl.SSLContext | None, tuple[str, ...] | None]:
    where = f"{PREFIX}: tls_server_config"
    for file_key, inline_key in (("cert_file", "cert"), ("key_file", "key"),
                                 ("client_ca_file", "client_ca")):
        if tls.get(file_key) and tls.get(inline_key):
            problems.append(f"{where}: set {file_key} or {inline_key}, not both")
    cert_file, key_file = _read(tls, "cert_file", base, problems), \
        _read(tls, "key_file", base, problems)
    client_ca_file = _read(tls, "client_ca_file", base, problems)
    has_cert = bool(tls.get("cert_file") or tls.get("cert"))
    has_key = bool(tls.get("key_file") or tls.get("key"))
    if not has_cert or not has_key:
        # exporter-toolkit silently serves plain HTTP when no TLS key is set at all; a
        # tls_server_config with settings but no certificate is refused here instead.
        missing = " and ".join(k for k, ok in (("cert_file (or cert)", has_cert),
                                               ("key_file (or key)", has_key)) if not ok)
        problems.append(f"{where}: TLS needs {missing}")
        return None, None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if cert_file or tls.get("cert"):
        _load_chain(context, tls, cert_file, key_file, problems)

    auth_type = str(tls.get("client_auth_type") or "NoClientCert")
    has_ca = bool(tls.get("client_ca_file") or tls.get("client_ca"))
    if auth_type in UNVERIFIED:
        problems.append(
            f"{where}.client_auth_type: {auth_type} accepts a client certificate without "
            "verifying it, which Python's ssl module cannot do; use VerifyClientCertIfGiven "
            "or RequireAndVerifyClientCert with client_ca_file")
    elif auth_type not in VERIFYING:
        problems.append(f"{where}.client_auth_type: must be one of "
                        f"{', '.join([*VERIFYING, *UNVERIFIED[:2]])}, got {auth_type!r}")
    else:
        context.verify_mode = VERIFYING[auth_type]
        if auth_type == "NoClientCert" and has_ca:
            problems.append(f"{where}: client_ca_file/client_ca is set but client_auth_type "
                            "is NoClientCert; set client_auth_type to "
                            "RequireAndVerifyClientCert (or VerifyClientCertIfGiven)")
        try:
            if client_ca_file:
                context.load_verify_locations(cafile=client_ca_file)
            elif tls.get("client_ca"):
                context.load_verify_locations(cadata=str(tls["client_ca"]))
            elif context.verify_mode != ssl.CERT_NONE:
                # Go verifies against the system roots when no client CA is given.
                context.load_default_certs(ssl.Purpose.CLIENT_AUTH)
        except (ssl.SSLError, ValueError) as exc:
            key = "client_ca_file" if client_ca_file else "client_ca"
            problems.append(f"{where}.{key}: not a PEM CA certificate: {exc}")

    allowed_sans: tuple[str, ...] | None = None
    sans = tls.get("client_allowed_sans")
    if sans is not None:
        if not isinstance(sans, list) or not all(isinstance(s, str) for s in sans):
            problems.append(f"{where}.client_allowed_sans: expected a list of strings")
        elif auth_type not in ("RequireAndVerifyClientCert", "RequireAnyClientCert"):
            problems.append(f"{where}.client_allowed_sans: needs client_auth_type "
                            "RequireAndVerifyClientCert (a client may otherwise send no "
                            "certificate, leaving no SAN to match)")
        else:
            allowed_sans = tuple(sans)

    _versions(context, tls, problems)
    _ciphers(context, tls, problems)
    _curves(context, tls, problems)
    return context, allowed_sans


def _load_chain(context: ssl.SSLContext, tls: Mapping[str, Any], cert_file: str | None,
                key_file: str | None, problems: list[str]) -> None:
    where = f"{PREFIX}: tls_server_config"
    if (tls.get("cert_file") and not cert_file) or (tls.get("key_file") and not key_file):
        return  # already reported by _read, with the path
    with tempfile.TemporaryDirectory(prefix="octavia-exporter-tls-") as tmp:
        # load_cert_chain reads files only; inline PEM goes through a private temp file.
        def materialize(name: str, path: str | None) -> str:
            if path:
                return path
            target = os.path.join(tmp, name)
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(str(tls.get(name, "")))
            return target

        cert = materialize("cert", cert_file)
        key = materialize("key", key_file)
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            names = f"{'cert_file ' + repr(cert_file) if cert_file else 'cert'} / " \
                    f"{'key_file ' + repr(key_file) if key_file else 'key'}"
            problems.append(f"{where}: {names}: not a matching PEM certificate and key "
                            f"({getattr(exc, 'reason', None) or exc})")


def _versions(context: ssl.SSLContext, tls: Mapping[str, Any], problems: list[str]) -> None:
    where = f"{PREFIX}: tls_server_config"
    chosen = {}
    for key, default in (("min_version", "TLS12"), ("max_version", "TLS13")):
        value = tls.get(key, default)
        if value not in TLS_VERSIONS:
            problems.append(f"{where}.{key}: must be one of {', '.join(TLS_VERSIONS)}, "
                            f"got {value!r}")
            return
        chosen[key] = TLS_VERSIONS[value]
    if chosen["min_version"] > chosen["max_version"]:
        problems.append(f"{where}: min_version {tls.get('min_version')} is above max_version "
                        f"{tls.get('max_version', 'TLS13')}")
        return
    # TLS 1.0/1.1 need OpenSSL's security level 0 on current distributions; without it the
    # setting would be accepted and then every such handshake refused.
    if chosen["min_version"] < ssl.TLSVersion.TLSv1_2:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.minimum_version = chosen["min_version"]
    context.maximum_version = chosen["max_version"]


def _ciphers(context: ssl.SSLContext, tls: Mapping[str, Any], problems: list[str]) -> None:
    where = f"{PREFIX}: tls_server_config"
    suites = tls.get("cipher_suites")
    if suites is not None:
        if not isinstance(suites, list) or not suites:
            problems.append(f"{where}.cipher_suites: expected a non-empty list of Go cipher "
                            "suite names")
        else:
            names: list[str] = []
            for suite in suites:
                if suite in TLS13_CIPHERS:
                    problems.append(f"{where}.cipher_suites: {suite} is a TLS 1.3 suite, which "
                                    "cannot be configured (in Go either); remove it")
                elif suite not in CIPHERS:
                    problems.append(f"{where}.cipher_suites: unknown cipher {suite!r} (valid: "
                                    f"{', '.join(CIPHERS)})")
                else:
                    names.append(CIPHERS[suite])
            if names:
                if context.minimum_version < ssl.TLSVersion.TLSv1_2:
                    names.append("@SECLEVEL=0")
                try:
                    context.set_ciphers(":".join(names))
                except ssl.SSLError:
                    problems.append(f"{where}.cipher_suites: this OpenSSL supports none of "
                                    f"{', '.join(suites)}")
    prefer = tls.get("prefer_server_cipher_suites", True)
    if not isinstance(prefer, bool):
        problems.append(f"{where}.prefer_server_cipher_suites: expected true or false, got "
                        f"{prefer!r}")
    elif prefer:
        context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        context.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE


def _curves(context: ssl.SSLContext, tls: Mapping[str, Any], problems: list[str]) -> None:
    where = f"{PREFIX}: tls_server_config.curve_preferences"
    curves = tls.get("curve_preferences")
    if curves is None:
        return
    if not isinstance(curves, list) or not curves:
        problems.append(f"{where}: expected a list of curve names ({', '.join(CURVES)})")
        return
    unknown = [c for c in curves if c not in CURVES]
    if unknown:
        problems.append(f"{where}: unknown curve {unknown[0]!r} (valid: {', '.join(CURVES)})")
    elif len(curves) > 1:
        problems.append(f"{where}: Python's ssl module can restrict the key exchange to one "
                        f"curve only, not a preference list; list exactly one (got "
                        f"{', '.join(curves)})")
    else:
        context.set_ecdh_curve(CURVES[curves[0]])


class RateLimit:
    """exporter-toolkit's token bucket: one request per `interval`, bursts of `burst`;
    requests over the budget are answered 429."""

    def __init__(self, interval: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._interval, self._burst, self._clock = interval, burst, clock
        self._tokens = float(burst)
        self._last = clock()

    def allow(self) -> bool:
        now = self._clock()
        self._tokens = min(float(self._burst),
                           self._tokens + (now - self._last) / self._interval)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self.allow():
            return web.Response(status=429, text="Too Many Requests\n")
        return await handler(request)


def peer_sans(request: web.Request) -> list[str]:
    """Every SAN of the verified client certificate: DNS names, e-mail addresses, IPs and URIs,
    the four kinds exporter-toolkit matches."""
    transport = request.transport
    cert = transport.get_extra_info("peercert") if transport is not None else None
    if not cert:
        return []
    return [str(value) for kind, value in cert.get("subjectAltName", ())
            if kind in ("DNS", "email", "IP Address", "URI")]


class AllowedSans:
    """Go rejects a client certificate without an allowed SAN in the handshake; Python's ssl
    has no hook there, so the request is refused (403) and the connection closed instead."""

    def __init__(self, allowed: Sequence[str]) -> None:
        self._allowed = frozenset(allowed)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self._allowed.intersection(peer_sans(request)):
            return await handler(request)
        return web.Response(status=403, text="client certificate SAN not allowed\n",
                            headers={"Connection": "close"})


# Probes answer without credentials (but over TLS, and within the client-certificate rules,
# when those are configured). exporter-toolkit protects every path; we do not for these two,
# because the callers that need them cannot log in: a kubelet probe or a container HEALTHCHECK
# has no way to hold the password behind a bcrypt hash, and all they learn is "ok" or "not
# ready". docs/operations.md says so.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})


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
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in OPEN_PATHS or await self.check(
                request.headers.get("Authorization", "")):
            return await handler(request)
        return web.Response(status=401, text="Unauthorized\n",
                            headers={"WWW-Authenticate": 'Basic realm="octavia-exporter"'})
