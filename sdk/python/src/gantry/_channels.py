"""Channels to the server: `https://` addresses speak TLS, verifying the server against the system's trust store (or
a CA file) and presenting a client certificate for mutual TLS when given one; `http://` and bare `host:port` stay
plaintext. Neither falls back to the other: a call that fails at TLS raises `TlsError`, naming the address and the
cause, and the worker stops on it instead of retrying."""

from __future__ import annotations

import collections
import dataclasses
import os
import re
import socket
import ssl

import grpc

from gantry.errors import TlsError


@dataclasses.dataclass(frozen=True)
class TlsSettings:
    """What an `https://` channel trusts and presents (paths to PEM files); unused for `http://`."""

    ca_file: str | os.PathLike | None = None
    client_cert_file: str | os.PathLike | None = None
    client_key_file: str | os.PathLike | None = None

    def __post_init__(self) -> None:
        if (self.client_cert_file is None) != (self.client_key_file is None):
            raise ValueError("client_cert_file and client_key_file go together (mutual TLS)")

    def credentials(self) -> grpc.ChannelCredentials:
        """The channel credentials; the files are read now, so that a missing one fails here, naming it."""
        roots = _read("CA file", self.ca_file) if self.ca_file is not None else system_roots()
        key = cert = None
        if self.client_cert_file is not None:
            cert = _read("client certificate", self.client_cert_file)
            key = _read("client key", self.client_key_file)
        return grpc.ssl_channel_credentials(root_certificates=roots, private_key=key, certificate_chain=cert)


def _read(what: str, path: str | os.PathLike | None) -> bytes:
    try:
        with open(path, "rb") as file:  # type: ignore[arg-type]
            data = file.read()
    except OSError as error:
        raise ValueError(f"{what} {os.fspath(path)}: {error.strerror}") from None  # type: ignore[arg-type]
    if b"-----BEGIN " not in data:
        raise ValueError(f"{what} {os.fspath(path)}: no PEM data in the file")  # type: ignore[arg-type]
    return data


def system_roots() -> bytes | None:
    """The system's trust store as OpenSSL finds it (`SSL_CERT_FILE`, or the distribution's bundle), so that a CA the
    machine trusts is trusted here too; None leaves grpcio to its bundled roots."""
    paths = ssl.get_default_verify_paths()
    for path in (paths.cafile, paths.openssl_cafile):
        if path and os.path.isfile(path):
            with open(path, "rb") as file:
                return file.read()
    return None


def is_tls(address: str) -> bool:
    return address.startswith("https://")


def channel_target(address: str) -> str:
    """`http://host:port`, `https://host:port` or `host:port` as a gRPC target."""
    for scheme in ("http://", "https://", "grpc://"):
        if address.startswith(scheme):
            return address[len(scheme) :].rstrip("/")
    return address


def make_channel(
    address: str,
    max_message_bytes: int,
    tls: TlsSettings | None = None,
    max_send_bytes: int | None = None,
    token: str | None = None,
) -> grpc.Channel:
    """A channel to `address`: TLS for `https://` (with `tls`, or the system's roots), plaintext otherwise; every call
    presents `token` (an API key) as `authorization: Bearer <token>` when one is given."""
    options = [
        ("grpc.max_send_message_length", max_send_bytes or max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
    ]
    target = channel_target(address)
    if is_tls(address):
        channel = grpc.secure_channel(target, (tls or TlsSettings()).credentials(), options=options)
    else:
        channel = grpc.insecure_channel(target, options=options)
    if token:
        return grpc.intercept_channel(channel, _Bearer(token))
    return channel


class _CallDetails(
    collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class _Bearer(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <token>` to every call. Its repr never shows the token."""

    def __init__(self, token: str):
        self._header = ("authorization", f"Bearer {token.strip()}")

    def __repr__(self) -> str:
        return "_Bearer(<redacted>)"

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [*(details.metadata or ()), self._header]
        return _CallDetails(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._details(details), requests)


# What grpc-core says when a TLS handshake fails, or when the peer's alert ends the connection after it (TSI is its
# transport security layer: "Unwrap failed (TSI_DATA_CORRUPTED)" is how a TLS 1.3 server's refusal of a client
# certificate reaches a call).
_TLS_MARKERS = (
    "handshake",
    "ssl",
    "tls",
    "tsi_",
    "certificate",
    "wrong_version_number",
    "socket closed",
)

# The HTTP/2 client preface and an empty SETTINGS frame: what a gRPC server answers, or refuses with an alert.
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def tls_failure(address: str, tls: TlsSettings | None, error: grpc.RpcError) -> str | None:
    """Why a failed call to `address` failed at TLS, if it did. grpc-core says little (an alert after the handshake
    is "TSI_DATA_CORRUPTED"), so a fresh connection with the same settings asks the server (`diagnose`)."""
    if not is_tls(address) or error.code() != grpc.StatusCode.UNAVAILABLE:
        return None
    details = error.details() or ""
    if not any(marker in details.lower() for marker in _TLS_MARKERS):
        return None
    return diagnose(address, tls or TlsSettings()) or details


def diagnose(address: str, tls: TlsSettings) -> str | None:
    """The TLS failure a fresh connection to `address` meets, if any, with a hint; None when the server answers or
    cannot be reached at all."""
    host, _, port = channel_target(address).rpartition(":")
    host = host.strip("[]")
    try:
        context = ssl.create_default_context(cafile=os.fspath(tls.ca_file) if tls.ca_file is not None else None)
        if tls.client_cert_file is not None and tls.client_key_file is not None:
            context.load_cert_chain(os.fspath(tls.client_cert_file), os.fspath(tls.client_key_file))
        context.set_alpn_protocols(["h2"])
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            with context.wrap_socket(sock, server_hostname=host) as connection:
                connection.sendall(_H2_PREFACE)
                connection.recv(64)
    except ssl.SSLError as failure:
        return describe(failure)
    except (OSError, ValueError):
        return None
    return None


def describe(failure: ssl.SSLError) -> str:
    """An SSL error in a sentence, with what it means for a client."""
    text = re.sub(r" \(_ssl\.c:\d+\)$", "", str(failure))
    reason = (failure.reason or "").upper()
    if reason in ("WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE", "HTTP_REQUEST"):
        return f"{text} (the server does not speak TLS there: a plaintext server is reached with http://)"
    if "CERTIFICATE_REQUIRED" in reason or reason.endswith("HANDSHAKE_FAILURE"):
        return f"{text} (the server requires a client certificate)"
    if any(alert in reason for alert in ("ALERT_UNKNOWN_CA", "ALERT_BAD_CERTIFICATE", "ALERT_CERTIFICATE_UNKNOWN")):
        return f"{text} (the server refused the client certificate)"
    return text


def raise_for_tls(address: str, tls: TlsSettings | None, error: grpc.RpcError) -> None:
    """Raises `TlsError` when `error` is a TLS failure."""
    cause = tls_failure(address, tls, error)
    if cause is not None:
        raise TlsError(address, cause) from None
