"""The real thing for the suites: a fresh Postgres database, the `gantry` server on port 0, the Rust example worker
(`gantry-example-worker`, for the cross-language tests) and a Python worker running `tasks.py`, shared by the session.

Readiness is read from the processes, never waited for with sleeps: the server prints `gantry listening on URL`,
the Rust worker logs `worker started` after registering its tasks, and the Python worker returns from `start()` once
it polls. Binaries come from `target/debug` (GANTRY_BIN_DIR overrides); scripts/python-test builds them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "sdk" / "python" / "examples"))
sys.path.insert(0, str(REPO / "tests" / "harness"))

import gantry  # noqa: E402
import tasks  # noqa: E402
import seed  # noqa: E402
from gantry_processes import (  # noqa: E402, F401 - the suites' modules import these from here
    LineWatcher,
    binary,
    fresh_database,
    psql,
    start_server,
    stop,
    with_database,
)

# Short leases make heartbeats (a third of the lease) and cancellations quick to observe.
LEASE = "3s"
# Far above any spec the suites build, far below the default (1,000,000), so that a runaway generator reaches it fast.
SPEC_NODES = 10_000


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def database_url():
    admin_url = os.environ.get("DATABASE_URL")
    if not admin_url:
        pytest.fail("DATABASE_URL is not set: run the suites with scripts/python-test (or scripts/test)")
    yield from fresh_database(admin_url)


@pytest.fixture(scope="session")
def server(database_url, logs_dir) -> str:
    """The server's endpoint, `http://127.0.0.1:PORT`."""
    endpoint, process = start_server(database_url, logs_dir, "--lease", LEASE, "--max-spec-nodes", str(SPEC_NODES))
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
