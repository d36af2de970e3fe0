"""What the Python suites share to run the real thing: the project's binaries, a fresh Postgres database per
session, the `gantry` server on port 0, and processes watched through their output.

Readiness is read from what the processes print, never waited for with sleeps. Binaries come from `target/debug`
(`GANTRY_BIN_DIR` overrides); the suites' scripts build them. Imported by sdk/python/tests and sdk/flyte/tests,
which put this directory on `sys.path`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import uuid
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 120.0


def binary(name: str) -> str:
    """The path of one of the project's binaries, which must have been built."""
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


def fresh_database(admin_url: str) -> Iterator[str]:
    """A database of its own on `admin_url`'s server for the session (named with the Rust harness's prefix, so that
    a leftover is recognisably a test database), dropped at the end: a generator for a fixture."""
    name = f"gantry_test_{uuid.uuid4().hex}"
    psql(admin_url, f"CREATE DATABASE {name}")
    yield with_database(admin_url, name)
    psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


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
    """Interrupts the process as Ctrl-C would, and kills it if it has not ended 15 s later."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_server(database_url: str, logs_dir: Path, *extra: str) -> tuple[str, subprocess.Popen]:
    """The `gantry` server on port 0 over `database_url`, with `extra` arguments: its endpoint
    (`http://127.0.0.1:PORT`, read from what it prints) and its process. It runs in `logs_dir`."""
    log_path = logs_dir / "server.log"
    process = subprocess.Popen(
        [binary("gantry"), "server", "--http-listen", "127.0.0.1:0", "--listen", "127.0.0.1:0"]
        + ["--database-url", database_url, *extra],
        stdout=subprocess.PIPE,
        stderr=open(log_path, "w"),
        text=True,
        cwd=logs_dir,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    watcher = LineWatcher(process.stdout, logs_dir / "server.stdout", r"gantry listening on (http://\S+)")
    return watcher.wait("gantry server", process, log_path).group(1), process


def wait_until_running(client, execution_id: str, node_id: str, timeout: float):
    """Watches an execution until the node `node_id` (a scoped id, or `/dn0` for any node whose id ends so) runs,
    which is when a gate waits, and returns that change; fails the test if the execution ends first or nothing comes
    within `timeout` seconds. `client` is a `gantry.Client`."""
    import gantry
    from gantry.v1 import admin_pb2, execution_pb2

    def matches(candidate: str) -> bool:
        return candidate.endswith(node_id) if node_id.startswith("/") else candidate == node_id

    request = admin_pb2.WatchExecutionRequest(execution_id=execution_id, include_snapshot=True)
    stream = client.admin.WatchExecution(request, timeout=timeout)
    try:
        for response in stream:
            for change in response.changes:
                kind = change.WhichOneof("change")
                if kind == "execution" and change.execution.phase in gantry.client.TERMINAL_PHASES:
                    pytest.fail(f"execution ended ({gantry.phase_name(change.execution.phase)}) before {node_id} ran")
                running = kind == "node" and change.node.phase == execution_pb2.NODE_PHASE_RUNNING
                if running and matches(change.node.node_id):
                    return change.node
    finally:
        stream.cancel()
    pytest.fail(f"the watch of {execution_id} ended before {node_id} ran")
