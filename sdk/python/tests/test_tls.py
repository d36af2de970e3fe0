"""TLS end to end with the Python SDK: a `gantry server` process serving TLS from certificates made in the test (with
`cryptography`), the seed over mutual TLS (Python worker and client), clients refused with the cause named (another
CA, no client certificate), `https://` to the plaintext session server failing instead of falling back, and the
server reloading its certificate on SIGHUP while it keeps running. Readiness and the reload are read from the
process's output, never waited for with sleeps."""

from __future__ import annotations

import signal
import socket
import ssl

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

import gantry
import seed
from conftest import stop
from tls_files import Ca, Pki, start_tls_server


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
