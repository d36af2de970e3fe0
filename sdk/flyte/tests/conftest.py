"""The real thing: a fresh Postgres database, the `gantry` server on port 0, the examples registered with the
`gantry-flyte register` command, and bridge workers (`python -m gantry_flyte worker`) as processes of their own.

Readiness is read from the processes' output, never waited for with sleeps: the server prints `gantry listening on
URL`, a bridge worker prints `ready` once it polls. Binaries come from `target/debug` (GANTRY_BIN_DIR overrides);
scripts/flyte-test builds them. The server and the watching of processes are the Python SDK suites' (tests/harness).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gantry

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
EXAMPLES = REPO / "sdk" / "flyte" / "examples"
sys.path.insert(0, str(EXAMPLES))
sys.path.insert(0, str(REPO / "tests" / "harness"))

from gantry_processes import LineWatcher, fresh_database, start_server, stop  # noqa: E402

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
# The subprocess runner's worker serves the seed under its own queue, so its templates are another version.
SUBPROCESS_QUEUE, SUBPROCESS_VERSION = "flyte-subprocess", "v1-subprocess"
LEASE = "3s"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def database_url():
    yield from fresh_database(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))


@pytest.fixture(scope="session")
def server(database_url, logs_dir) -> str:
    """The server's endpoint, `http://127.0.0.1:PORT`."""
    endpoint, process = start_server(database_url, logs_dir, "--lease", LEASE)
    yield endpoint
    stop(process)


def gantry_flyte(*args: str) -> subprocess.CompletedProcess:
    """The `gantry-flyte` command, run from the examples directory."""
    return subprocess.run(
        [sys.executable, "-m", "gantry_flyte", *args], cwd=EXAMPLES, capture_output=True, text=True, timeout=300
    )


def register(
    server: str, version: str, queue: str, modules: tuple[str, ...] = ("seed_flyte", "features_flyte")
) -> subprocess.CompletedProcess:
    """`gantry-flyte register` of example `modules` in the tests' project and domain, which must succeed."""
    result = gantry_flyte(
        "register",
        *modules,
        "--server",
        server,
        "--project",
        PROJECT,
        "--domain",
        DOMAIN,
        "--version",
        version,
        "--queue",
        queue,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return result


@pytest.fixture(scope="session")
def registered(server) -> subprocess.CompletedProcess:
    return register(server, VERSION, "flyte")


def start_worker(server: str, logs_dir: Path, name: str, *args: str) -> subprocess.Popen:
    log_path = logs_dir / f"{name}.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gantry_flyte",
            "worker",
            "--server",
            server,
            "--data-dir",
            str(logs_dir / f"{name}-data"),
            *args,
        ],
        cwd=EXAMPLES,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(EXAMPLES)},
    )
    LineWatcher(process.stdout, log_path, r"gantry-flyte worker .* ready").wait(name, process, log_path)
    return process


@pytest.fixture(scope="session")
def bridge(server, registered, logs_dir) -> subprocess.Popen:
    """The bridge worker with the fork runner, on queue `flyte`: its process."""
    process = start_worker(
        server,
        logs_dir,
        "bridge-fork",
        "--slots",
        "4",
        "--runner",
        "fork",
        "--preload",
        "seed_flyte",
        "--preload",
        "features_flyte",
    )
    yield process
    stop(process)


@pytest.fixture(scope="session")
def client(server, bridge) -> gantry.Client:
    with gantry.Client(server) as client:
        yield client
