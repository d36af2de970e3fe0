"""The real thing: a fresh Postgres database, the `gantry` server on port 0, the examples registered with the
`gantry-flyte register` command, and bridge workers (`python -m gantry_flyte worker`) as processes of their own.

Readiness is read from the processes' output, never waited for with sleeps: the server prints `gantry listening on
URL`, a bridge worker prints `ready` once it polls. Binaries come from `target/debug` (GANTRY_BIN_DIR overrides);
scripts/flyte-test builds them. A binary missing for a moment (a rebuild under way) is waited for, up to a minute.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

import gantry

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
EXAMPLES = REPO / "sdk" / "flyte" / "examples"
sys.path.insert(0, str(EXAMPLES))

PROJECT, DOMAIN, VERSION = "flytesnacks", "development", "v1"
# The subprocess runner's worker serves the seed under its own queue, so its templates are another version.
SUBPROCESS_QUEUE, SUBPROCESS_VERSION = "flyte-subprocess", "v1-subprocess"
LEASE = "3s"
READY_TIMEOUT = 120.0
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"


def binary(name: str) -> str:
    directory = Path(os.environ.get("GANTRY_BIN_DIR", REPO / "target" / "debug"))
    path = directory / name
    give_up = time.monotonic() + 60
    # A rebuild replaces the file; a missing binary is polled for (a file appearing has no event to wait on).
    while not path.exists():
        if time.monotonic() > give_up:
            pytest.fail(f"{path} is missing: build it with `cargo build -p gantry --bins`")
        time.sleep(1)
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
        threading.Thread(target=self._drain, args=(stream, log_path), daemon=True).start()

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
    admin_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
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
        ],
        stdout=subprocess.PIPE,
        stderr=open(log_path, "w"),
        text=True,
        cwd=logs_dir,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    watcher = LineWatcher(process.stdout, logs_dir / "server.stdout", r"gantry listening on (http://\S+)")
    yield watcher.wait("gantry server", process, log_path).group(1)
    stop(process)


def gantry_flyte(*args: str) -> subprocess.CompletedProcess:
    """The `gantry-flyte` command, run from the examples directory."""
    return subprocess.run(
        [sys.executable, "-m", "gantry_flyte", *args], cwd=EXAMPLES, capture_output=True, text=True, timeout=300
    )


def register(server: str, version: str, queue: str) -> subprocess.CompletedProcess:
    result = gantry_flyte(
        "register",
        "seed_flyte",
        "features_flyte",
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
