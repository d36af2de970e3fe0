"""The real thing for the console's browser tests: the `gantry` server on port 0 with the example worker in its
process (`--examples`, which registers the Rust examples and runs the seed), a Python worker running
`console_tasks.py`, and Debian's headless Chromium driven by Playwright (never a downloaded browser).

Readiness is read from the server's output, never waited for with sleeps: it prints `gantry listening on URL`,
`metrics and probes on URL` and the seed's result. Binaries come from `target/debug` (GANTRY_BIN_DIR overrides);
scripts/console-test builds them. Screenshots go to GANTRY_CONSOLE_SHOTS (default: a directory of the session's).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests" / "harness"))

import gantry  # noqa: E402
import console_tasks  # noqa: E402
from gantry_processes import binary, stop  # noqa: E402

CHROMIUM = os.environ.get("GANTRY_CHROMIUM", "/usr/bin/chromium")
READY_TIMEOUT = 180.0
LEASE = "10s"




class Lines:
    """Drains a process's pipe into a log file on a thread and remembers the first match of each pattern."""

    def __init__(self, stream, log_path: Path, patterns: dict[str, str]):
        self.patterns = {key: re.compile(pattern) for key, pattern in patterns.items()}
        self.matches: dict[str, re.Match] = {}
        self.changed = threading.Condition()
        self.closed = False
        threading.Thread(target=self._drain, args=(stream, log_path), daemon=True).start()

    def _drain(self, stream, log_path: Path) -> None:
        with open(log_path, "a") as log:
            for line in stream:
                log.write(line)
                log.flush()
                with self.changed:
                    for key, pattern in self.patterns.items():
                        if key not in self.matches and (match := pattern.search(line)):
                            self.matches[key] = match
                    self.changed.notify_all()
        with self.changed:
            self.closed = True
            self.changed.notify_all()

    def wait(self, keys: list[str], what: str, log_path: Path) -> dict[str, re.Match]:
        with self.changed:
            self.changed.wait_for(lambda: self.closed or all(k in self.matches for k in keys), READY_TIMEOUT)
            missing = [k for k in keys if k not in self.matches]
        if missing:
            pytest.fail(f"{what} did not print {missing}; log:\n{log_path.read_text()[-4000:]}")
        return self.matches


@dataclass
class Server:
    """A running server: its gRPC endpoint, its HTTP port (the console), and the seed's execution, if it ran one."""

    grpc: str
    http: str
    seed_execution: str | None
    process: subprocess.Popen


def start_server(directory: Path, logs: Path, name: str, extra: list[str]) -> Server:
    log_path = logs / f"{name}.log"
    out_path = logs / f"{name}.stdout"
    process = subprocess.Popen(
        [binary("gantry"), "server", "--listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0", "--lease", LEASE,
         "--data-path", str(directory / "gantry.db"), *extra],
        cwd=directory,
        stdout=subprocess.PIPE,
        stderr=open(log_path, "w"),
        text=True,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    patterns = {
        "grpc": r"gantry listening on (http://\S+)",
        "http": r"probes on (http://[0-9.:]+)",
        "seed": r"seed example: .* in execution ([0-9a-f-]{36})",
    }
    lines = Lines(process.stdout, out_path, patterns)
    keys = ["grpc", "http", "seed"] if "--examples" in extra else ["grpc", "http"]
    matches = lines.wait(keys, f"gantry server ({name})", log_path)
    seed = matches["seed"].group(1) if "seed" in matches else None
    return Server(grpc=matches["grpc"].group(1), http=matches["http"].group(1), seed_execution=seed, process=process)


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def shots_dir(tmp_path_factory) -> Path:
    configured = os.environ.get("GANTRY_CONSOLE_SHOTS")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots: {directory}", file=sys.stderr)
    return directory


@pytest.fixture(scope="session")
def server(tmp_path_factory, logs_dir) -> Server:
    """A server in developer mode with the examples (the seed ran) and its console; values above 2 KiB offloaded."""
    directory = tmp_path_factory.mktemp("server")
    # Values above 2 KiB are offloaded, so that the pages' on-demand fetches of them are exercised.
    running = start_server(
        directory, logs_dir, "server", ["--examples", "--example-concurrency", "8", "--offload-bytes", "2048"]
    )
    yield running
    stop(running.process)


@pytest.fixture(scope="session")
def client(server) -> gantry.Client:
    with gantry.Client(server.grpc) as client:
        yield client


@pytest.fixture(scope="session")
def py_worker(server) -> gantry.Worker:
    worker = gantry.Worker(server.grpc, tasks=console_tasks.TASKS, concurrency=32, shutdown_grace=1)
    worker.register()
    worker.start()
    if worker.error is not None:
        raise worker.error
    yield worker
    worker.stop(wait=False)
    worker.close()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/console-test installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server.http, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    # Assertions wait as long as actions: on a loaded machine a debug server's page can take more than the default 5 s.
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    page = context.new_page()
    yield page
    context.close()
