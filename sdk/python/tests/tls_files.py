"""TLS files for the suites, made in the test with `cryptography`: a CA and the certificates it issues (for localhost
and 127.0.0.1), the directory a server and its clients read them from, and a `gantry server` process serving TLS from
them. Used by test_tls.py and, for tokens that only ever travel over TLS, test_auth.py."""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import LineWatcher, binary


@dataclass
class Issued:
    cert_pem: bytes
    key_pem: bytes
    der: bytes


class Ca:
    """A certificate authority made for the test; its certificates name localhost and 127.0.0.1."""

    def __init__(self, name: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} {uuid.uuid4().hex}")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name)
            .issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(self, name: str, serial: int, usage: x509.ObjectIdentifier) -> Issued:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return Issued(cert.public_bytes(serialization.Encoding.PEM), key_pem, cert.public_bytes(serialization.Encoding.DER))


class Pki:
    """The files a TLS server and its clients read, in one directory."""

    def __init__(self, directory: Path):
        self.dir = directory
        self.ca = Ca("gantry python test CA")
        self.client_ca = Ca("gantry python test client CA")
        self.server = self.ca.issue("localhost", 1, ExtendedKeyUsageOID.SERVER_AUTH)
        self.client = self.client_ca.issue("python-worker", 1, ExtendedKeyUsageOID.CLIENT_AUTH)
        self.write("ca.pem", self.ca.pem)
        self.write("client-ca.pem", self.client_ca.pem)
        self.write("client.pem", self.client.cert_pem)
        self.write("client.key", self.client.key_pem)
        self.replace_server_cert(self.server)

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def write(self, name: str, data: bytes) -> None:
        """Whole files only: written beside, then renamed over, as a secret's update does."""
        staged = self.dir / f".{name}.new"
        staged.write_bytes(data)
        os.replace(staged, self.dir / name)

    def replace_server_cert(self, issued: Issued) -> None:
        self.write("server.key", issued.key_pem)
        self.write("server.pem", issued.cert_pem)

    def client_tls(self, *, client_cert: bool = True) -> dict:
        tls = {"ca_file": self.path("ca.pem")}
        if client_cert:
            tls.update(client_cert_file=self.path("client.pem"), client_key_file=self.path("client.key"))
        return tls


@dataclass
class TlsServer:
    endpoint: str
    process: subprocess.Popen
    log: LineWatcher
    log_path: Path


def start_tls_server(pki: Pki, logs_dir: Path, name: str, *extra: str) -> TlsServer:
    """`gantry server` serving TLS from `pki`, with the flags `extra`, on an embedded store of its own (the file
    `pki.path(f"{name}.db")`, where a test may make keys before the server starts); the timer never reloads (only
    SIGHUP does, in these tests)."""
    log_path = logs_dir / f"{name}.log"
    process = subprocess.Popen(
        [
            binary("gantry"),
            "server",
            "--http-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--data-path",
            pki.path(f"{name}.db"),
            "--blob-store",
            pki.path(f"{name}-blobs"),
            "--tls-cert",
            pki.path("server.pem"),
            "--tls-key",
            pki.path("server.key"),
            "--tls-reload-interval",
            "1h",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUST_LOG": "info", "NO_COLOR": "1"},
    )
    log = LineWatcher(process.stderr, log_path, r"tls certificate reloaded")
    banner = LineWatcher(process.stdout, logs_dir / f"{name}.stdout", r"gantry listening on (https://\S+)")
    endpoint = banner.wait(f"gantry server ({name})", process, log_path).group(1)
    return TlsServer(endpoint, process, log, log_path)
