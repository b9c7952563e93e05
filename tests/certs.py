"""Certificates made in the test: a CA, a server certificate for 127.0.0.1 and ::1, client
certificates from that CA and from a stranger, written as PEM files."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class Certs:
    ca: Path
    server: Pair
    client: Pair          # signed by ca, SAN DNS:prometheus.example + URI
    other_client: Pair    # signed by ca, SAN DNS:intruder.example
    stranger: Pair        # self-signed: not from ca
    stranger_ca: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _build(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
           signer: ec.EllipticCurvePrivateKey, sans: list[x509.GeneralName], ca: bool,
           client: bool = False) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            encipher_only=False, decipher_only=False), critical=True)
    else:
        usage = x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH if client else \
            x509.oid.ExtendedKeyUsageOID.SERVER_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _write(directory: Path, name: str, cert: x509.Certificate,
           key: ec.EllipticCurvePrivateKey) -> Pair:
    pair = Pair(directory / f"{name}.crt", directory / f"{name}.key")
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pair.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return pair


def make(directory: Path) -> Certs:
    ca_key = _key()
    ca_cert = _build("test CA", ca_key, _name("test CA"), ca_key, [], ca=True)
    ca_path = directory / "ca.crt"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_key = _key()
    server = _write(directory, "server", _build(
        "127.0.0.1", server_key, ca_cert.subject, ca_key,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
         x509.IPAddress(ipaddress.ip_address("::1")), x509.DNSName("localhost")], ca=False),
        server_key)
    client_key = _key()
    client = _write(directory, "client", _build(
        "prometheus", client_key, ca_cert.subject, ca_key,
        [x509.DNSName("prometheus.example"),
         x509.UniformResourceIdentifier("spiffe://example/prometheus")], ca=False, client=True),
        client_key)
    other_key = _key()
    other = _write(directory, "other", _build(
        "intruder", other_key, ca_cert.subject, ca_key, [x509.DNSName("intruder.example")],
        ca=False, client=True), other_key)
    stranger_key = _key()
    stranger_cert = _build("stranger", stranger_key, _name("stranger"), stranger_key,
                           [x509.DNSName("prometheus.example")], ca=True)
    stranger = _write(directory, "stranger", stranger_cert, stranger_key)
    return Certs(ca_path, server, client, other, stranger, stranger.cert)
