"""TLS end to end with the Python SDK: a `gantry server` process serving TLS from certificates made in the test (with
`cryptography`), the seed over mutual TLS (Python worker and client), clients refused with the cause named (another
CA, no client certificate), `https://` to the plaintext session server failing instead of falling back, and the
server reloading its certificate on SIGHUP while it keeps running. Readiness and the reload are read from the
process's output, never waited for with sleeps."""

from __future__ import annotations

import datetime
import ipaddress
import os
import signal
import socket
import ssl
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import gantry
import seed
from conftest import LineWatcher, binary, stop


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
    """`gantry server` serving TLS from `pki`, on an embedded store of its own; the timer never reloads (only SIGHUP
    does, in these tests)."""
    log_path = logs_dir / f"{name}.log"
    process = subprocess.Popen(
        [
            binary("gantry"),
            "server",
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


def presented_certificate(endpoint: str, ca_file: str) -> bytes:
    """The certificate (DER) the server presents to a new connection, verified against `ca_file`."""
    host, port = endpoint.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=ca_file)
    context.set_alpn_protocols(["h2"])
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def mtls_server(pki, logs_dir):
    server = start_tls_server(
        pki, logs_dir, "tls-server", "--tls-client-ca", pki.path("client-ca.pem"), "--tls-client-auth", "required"
    )
    yield server
    stop(server.process)


def test_the_seed_runs_over_mutual_tls(pki, mtls_server):
    assert mtls_server.endpoint.startswith("https://")
    worker = gantry.Worker(mtls_server.endpoint, tasks=seed.TASKS, concurrency=4, **pki.client_tls())
    worker.register()
    worker.start()
    try:
        assert worker.error is None
        with gantry.Client(mtls_server.endpoint, **pki.client_tls()) as client:
            execution = client.run(seed.generate_others, tasks_count=5)
            assert execution.result(timeout=120) == [0, 2, 4, 6, 8]
    finally:
        worker.stop(wait=True, timeout=30)
        worker.close()


def test_a_client_trusting_another_ca_is_refused_naming_the_cause(pki, mtls_server, tmp_path):
    other = tmp_path / "other-ca.pem"
    other.write_bytes(Ca("another CA").pem)
    tls = {**pki.client_tls(), "ca_file": str(other)}
    with gantry.Client(mtls_server.endpoint, **tls) as client:
        with pytest.raises(gantry.TlsError) as refused:
            client.register(*seed.TASKS)
    message = str(refused.value)
    assert message.startswith(f"TLS with {mtls_server.endpoint} failed: ")
    assert "CERTIFICATE_VERIFY_FAILED" in message or "certificate verify failed" in message.lower(), message

    worker = gantry.Worker(mtls_server.endpoint, tasks=seed.TASKS, **tls)
    with pytest.raises(gantry.TlsError):
        worker.register()
    worker.close()


def test_mutual_tls_refuses_a_worker_without_a_client_certificate(pki, mtls_server):
    worker = gantry.Worker(mtls_server.endpoint, tasks=seed.TASKS, **pki.client_tls(client_cert=False))
    with pytest.raises(gantry.TlsError) as refused:
        worker.register()
    assert refused.value.address == mtls_server.endpoint
    # The poll loop stops on it too, instead of retrying.
    with pytest.raises(gantry.TlsError):
        worker.run()
    worker.close()

    with gantry.Client(mtls_server.endpoint, **pki.client_tls()) as client:
        assert client.register(*seed.TASKS) == 0, "with its certificate the same client gets in"


def test_https_to_a_plaintext_server_fails_instead_of_falling_back(server, pki):
    assert server.startswith("http://")
    endpoint = "https://" + server.removeprefix("http://")
    with gantry.Client(endpoint, ca_file=pki.path("ca.pem")) as client:
        with pytest.raises(gantry.TlsError) as refused:
            client.register(*seed.TASKS)
    assert refused.value.address == endpoint
    worker = gantry.Worker(endpoint, tasks=seed.TASKS, ca_file=pki.path("ca.pem"))
    with pytest.raises(gantry.TlsError):
        worker.register()
    with pytest.raises(gantry.TlsError):
        worker.run()
    worker.close()


def test_the_server_reloads_its_certificate_on_sighup_without_a_restart(pki, logs_dir):
    server = start_tls_server(pki, logs_dir, "tls-reload")
    try:
        assert presented_certificate(server.endpoint, pki.path("ca.pem")) == pki.server.der
        renewed = pki.ca.issue("localhost", 2, ExtendedKeyUsageOID.SERVER_AUTH)
        pki.replace_server_cert(renewed)
        server.process.send_signal(signal.SIGHUP)
        server.log.wait("the certificate reload", server.process, server.log_path)
        assert presented_certificate(server.endpoint, pki.path("ca.pem")) == renewed.der
        assert server.process.poll() is None, "the server never restarted"
        with gantry.Client(server.endpoint, ca_file=pki.path("ca.pem")) as client:
            assert client.register(*seed.TASKS) == 2
    finally:
        pki.replace_server_cert(pki.server)
        stop(server.process)
