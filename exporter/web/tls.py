"""The TLS side of a web configuration: `tls_server_config` → the server's SSL context.

Each key means what it means in the Prometheus exporter-toolkit; where Python's ssl module
cannot do what a key asks (an unverified client certificate, a curve preference list), the key
is refused with the reason and what to use instead. Problems are reported relative to the
section (`tls_server_config.<key>: …`); webconfig.load names the file setting before them.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Mapping
from typing import Any

SECTION = "tls_server_config"
KEYS = ("cert", "key", "client_ca", "cert_file", "key_file", "client_auth_type",
        "client_ca_file", "client_allowed_sans", "min_version", "max_version",
        "cipher_suites", "prefer_server_cipher_suites", "curve_preferences")

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
        problems.append(f"{SECTION}.{key}: cannot read {path!r}: "
                        f"{exc.strerror}")
        return None
    return path


def server_context(tls: Mapping[str, Any], base: str, problems: list[str],
                   ) -> tuple[ssl.SSLContext | None, tuple[str, ...] | None]:
    """The SSL context and the client SANs allowed (None: any) for a `tls_server_config`
    section; file keys are relative to `base`, the web config file's directory. Every problem
    is appended to `problems`; the context is None when there is no usable certificate."""
    where = SECTION
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
    where = SECTION
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
    where = SECTION
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
    where = SECTION
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
    where = f"{SECTION}.curve_preferences"
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


