"""The real thing for the suites: a fresh Postgres database, the `gantry` server on port 0, the Rust example worker
(`gantry-example-worker`, for the cross-language tests) and a Python worker running `tasks.py`, shared by the session.

Readiness is read from the processes, never waited for with sleeps: the server prints `gantry listening on URL`,
the Rust worker logs `worker started` after registering its tasks, and the Python worker returns from `start()` once
it polls. Binaries come from `target/debug` (GANTRY_BIN_DIR overrides); scripts/python-test builds them.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "sdk" / "python" / "examples"))

import gantry  # noqa: E402
import tasks  # noqa: E402
import seed  # noqa: E402

# Short leases make heartbeats (a third of the lease) and cancellations quick to observe.
LEASE = "3s"
# Far above any spec the suites build, far below the default (1,000,000), so that a runaway generator reaches it fast.
SPEC_NODES = 10_000
READY_TIMEOUT = 120.0


def binary(name: str) -> str:
    directory = Path(os.environ.get("GANTRY_BIN_DIR", REPO / "target" / "debug"))
    path = directory / name
    if not path.exists():
        pytest.fail(f"{path} is missing: build it with `cargo build -p gantry -p gantry-examples --bins`")
    return str(path)


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def psql(url: str, statement: str) -> None:
    subprocess.run(["psql", url, "-qAtc", statement], check=True, capture_output=True, text=True)


class LineWatcher:
    """Drains a process's pipe into a log file on a thread and signals when a line matches `pattern`."""

    def __init__(self, stream, log_path: Path, pattern: str):
        self.pattern = re.compile(pattern)
        self.match: re.Match | None = None
        self.found = threading.Event()
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._drain, args=(stream, log_path), daemon=True)
        self._thread.start()

    def _drain(self, stream, log_path: Path) -> None:
        with open(log_path, "a") as log:
            for line in stream:
                log.write(line)
                log.flush()
                if not self.found.is_set():
                    match = self.pattern.search(line)
                    if match:
                        self.match = match
                        self.found.set()
        self.closed.set()
        self.found.set()

    def wait(self, what: str, process: subprocess.Popen, log_path: Path) -> re.Match:
        self.found.wait(READY_TIMEOUT)
        if self.match is None:
            process.kill()
            pytest.fail(
                f"{what} did not become ready (exit code {process.poll()}); log:\n{log_path.read_text()[-4000:]}"
            )
        return self.match


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def database_url():
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        pytest.fail("DATABASE_URL is not set: run the suites with scripts/python-test (or scripts/test)")
    # The Rust harness's prefix, so that a leftover is recognisably a test database.
    name = f"gantry_test_{uuid.uuid4().hex}"
    psql(admin_url, f"CREATE DATABASE {name}")
    yield with_database(admin_url, name)
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def server(database_url, logs_dir) -> str:
    """The server's endpoint, `http://127.0.0.1:PORT`."""
    log_path = logs_dir / "server.log"
    process = subprocess.Popen(
        [
            binary("gantry"),
            "server",
            "--http-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
            "--lease",
            LEASE,
            "--max-spec-nodes",
            str(SPEC_NODES),
        ],
        stdout=subprocess.PIPE,
        stderr=open(log_path, "w"),
        text=True,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    watcher = LineWatcher(process.stdout, logs_dir / "server.stdout", r"gantry listening on (http://\S+)")
    endpoint = watcher.wait("gantry server", process, log_path).group(1)
    yield endpoint
    stop(process)


@pytest.fixture(scope="session")
def rust_worker(server, logs_dir) -> subprocess.Popen:
    """The Rust example worker (seed tasks and `rust_fans_out_python`), its tasks registered: its process."""
    log_path = logs_dir / "rust-worker.log"
    process = subprocess.Popen(
        [binary("gantry-example-worker"), "--endpoint", server, "--register", "--concurrency", "8"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RUST_LOG": "info", "NO_COLOR": "1"},
    )
    LineWatcher(process.stderr, log_path, r"worker started").wait("gantry-example-worker", process, log_path)
    yield process
    stop(process)


@contextlib.contextmanager
def running(worker: gantry.Worker):
    """Starts `worker` (raising what kept it from starting), yields it, then stops and closes it."""
    worker.start()
    if worker.error is not None:
        raise worker.error
    try:
        yield worker
    finally:
        worker.stop(wait=True, timeout=30)
        worker.close()


@pytest.fixture(scope="session")
def py_worker(server) -> gantry.Worker:
    worker = gantry.Worker(server, tasks=tasks.ALL + seed.TASKS, concurrency=16, shutdown_grace=10)
    worker.register()
    with running(worker):
        yield worker


@pytest.fixture(scope="session")
def client(server, py_worker) -> gantry.Client:
    with gantry.Client(server) as client:
        yield client
