"""A database outage under a Python worker. The server reaches Postgres through a proxy the test cuts (new connections
refused, open ones closed) while a fan-out's attempts run on the worker; some attempts finish during the outage; the
database comes back after twice the lease. The worker rides through: heartbeats failing with UNAVAILABLE stop
nothing, completions are sent again until the server acknowledges them, and nothing runs twice.

This test runs a server of its own (on a database of its own, behind the proxy), not the session's.
"""

from __future__ import annotations

import collections
import os
import random
import socket
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

import gantry
from gantry import dynamic_task, task
from gantry.v1 import admin_pb2, execution_pb2

from conftest import LineWatcher, binary, psql, stop, with_database

LEASE_SECONDS = 2.0
CHILDREN = 6
STARTED: collections.Counter = collections.Counter()
RUNNING = {index: threading.Event() for index in range(CHILDREN)}
RETURNED = {index: threading.Event() for index in range(CHILDREN)}
RELEASE = {index: threading.Event() for index in range(CHILDREN)}


@task(project="pytest", domain="dev", queue="pytest-outage")
def held_through_outage(index: int) -> int:
    STARTED[index] += 1
    RUNNING[index].set()
    RELEASE[index].wait(120)
    RETURNED[index].set()
    return index * 2


@dynamic_task(project="pytest", domain="dev", queue="pytest-outage")
def fan_out_through_outage(count: int) -> list[int]:
    nodes = [held_through_outage(index=i) for i in range(count)]
    yield nodes
    return [node.outputs.out for node in nodes]


class Proxy:
    """A TCP proxy to Postgres on a port below the ephemeral range. `cut()` is a stopped database: the listening
    socket closes (connections are refused) and every open connection is closed; `restore()` listens again."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        for _ in range(200):
            port = random.randrange(20_000, 32_000)
            try:
                self._listen(port)
            except OSError:
                continue
            self.port = port
            return
        raise RuntimeError("no free port for the proxy")

    def _listen(self, port: int) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
        return urlunsplit((parts.scheme, f"{user}127.0.0.1:{self.port}", parts.path, parts.query, parts.fragment))

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()

    def restore(self) -> None:
        self._listen(self.port)


def health(channel, service: str = "") -> int:
    """`grpc.health.v1.Health/Check` by hand (the SDK does not ship its stubs): 1 is SERVING, 2 NOT_SERVING."""
    check = channel.unary_unary("/grpc.health.v1.Health/Check")
    encoded = service.encode()
    request = b"\x0a" + bytes([len(encoded)]) + encoded if encoded else b""
    response = check(request, timeout=5)
    # HealthCheckResponse { status = 1 }: one varint field, left out when UNKNOWN.
    return response[1] if len(response) >= 2 and response[0] == 0x08 else 0


def wait_for_health(channel, want: int, within: float) -> float:
    started = time.monotonic()
    while True:
        status = health(channel)
        if status == want:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            pytest.fail(f"health is {status}, not {want}, {within}s on")
        time.sleep(0.05)


@pytest.fixture
def proxied_server(logs_dir):
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        pytest.fail("DATABASE_URL is not set: run the suites with scripts/python-test (or scripts/test)")
    database = f"gantry_test_{uuid.uuid4().hex}"
    psql(admin_url, f"CREATE DATABASE {database}")
    parts = urlsplit(admin_url)
    proxy = Proxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    log_path = logs_dir / "outage-server.log"
    process = subprocess.Popen(
        [
            binary("gantry"),
            "server",
            "--http-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            with_database(proxy.url(admin_url), database),
            "--lease",
            f"{LEASE_SECONDS}s",
        ],
        stdout=subprocess.PIPE,
        stderr=open(log_path, "w"),
        text=True,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "info")},
    )
    try:
        watcher = LineWatcher(process.stdout, logs_dir / "outage-server.stdout", r"gantry listening on (http://\S+)")
        yield watcher.wait("gantry server", process, log_path).group(1), proxy
    finally:
        stop(process)
        proxy.cut()
        psql(admin_url, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def test_a_python_worker_rides_through_a_database_outage_of_twice_the_lease(proxied_server):
    endpoint, proxy = proxied_server
    client = gantry.Client(endpoint)
    worker = gantry.Worker(endpoint, tasks=[fan_out_through_outage, held_through_outage], concurrency=CHILDREN + 1)
    worker.register()
    worker.start()
    try:
        execution = client.run(fan_out_through_outage, count=CHILDREN)
        for index in range(CHILDREN):
            assert RUNNING[index].wait(60), f"child {index} never started"

        cut = time.monotonic()
        proxy.cut()
        not_serving = wait_for_health(client.channel, 2, within=5)
        # Half the children finish while the database is down: their completions wait for it.
        for index in range(CHILDREN // 2):
            RELEASE[index].set()
            assert RETURNED[index].wait(30)
        time.sleep(max(0.0, cut + 2 * LEASE_SECONDS - time.monotonic()))
        restored = time.monotonic()
        proxy.restore()
        serving = wait_for_health(client.channel, 1, within=10)
        print(f"outage: NOT_SERVING {not_serving:.2f}s after the cut, SERVING {serving:.2f}s after the return, "
              f"{restored - cut:.2f}s without the database (lease {LEASE_SECONDS}s)")
        for index in range(CHILDREN // 2, CHILDREN):
            RELEASE[index].set()

        assert execution.result(timeout=120) == [index * 2 for index in range(CHILDREN)]
        (generator,) = execution.nodes()
        children = execution.nodes(generator.node_id)
        assert len(children) == CHILDREN
        for node in [generator, *children]:
            request = admin_pb2.ListTaskAttemptsRequest(execution_id=execution.id, node_id=node.node_id)
            attempts = list(client.admin.ListTaskAttempts(request).attempts)
            assert len(attempts) == 1, f"{node.node_id} ran {len(attempts)} times: {attempts}"
            assert attempts[0].phase == execution_pb2.ATTEMPT_PHASE_SUCCEEDED, attempts[0]
            assert attempts[0].worker_id == worker.worker_id
        assert dict(STARTED) == {index: 1 for index in range(CHILDREN)}, "each child's function ran once"
    finally:
        for event in RELEASE.values():
            event.set()
        worker.stop(wait=True, timeout=30)
        client.close()
