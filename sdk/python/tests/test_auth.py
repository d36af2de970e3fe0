"""The Python SDK against a server with authentication (`gantry server --auth keys`, its own process on a SQLite file):
the first admin key made with the CLI straight on the store, a project and keys made through the CLI, the seed
registered and run by a client with an operator's token while a worker with a worker key runs it, and a client without
a token refused. Readiness is read from the process's output, never waited for with sleeps."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import gantry
import seed
from conftest import LineWatcher, binary, stop


def gantry_cli(*args: str, token: str | None = None) -> str:
    env = {name: value for name, value in os.environ.items() if not name.startswith("GANTRY_")}
    if token is not None:
        env["GANTRY_TOKEN"] = token
    done = subprocess.run([binary("gantry"), *args], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def authenticated(tmp_path_factory):
    """`(endpoint, admin token)` of a server with API keys on."""
    directory = tmp_path_factory.mktemp("auth")
    data = str(directory / "gantry.db")
    admin = json.loads(gantry_cli("--output", "json", "auth", "keys", "create", "--role", "admin", "--data-path", data))
    log_path = directory / "server.log"
    process = subprocess.Popen(
        [
            binary("gantry"),
            "server",
            "--listen",
            "127.0.0.1:0",
            "--data-path",
            data,
            "--blob-store",
            str(directory / "blobs"),
            "--auth",
            "keys",
        ],
        stdout=subprocess.PIPE,
        stderr=open(log_path, "w"),
        text=True,
    )
    watcher = LineWatcher(process.stdout, directory / "server.stdout", r"gantry listening on (http://\S+)")
    endpoint = watcher.wait("gantry server", process, log_path).group(1)
    yield endpoint, admin["token"]
    stop(process)


def test_the_seed_runs_with_tokens(authenticated):
    endpoint, admin = authenticated
    gantry_cli("--endpoint", endpoint, "projects", "create", gantry.DEFAULT_PROJECT, token=admin)

    def key(role: str) -> str:
        created = gantry_cli(
            "--endpoint", endpoint, "--output", "json", "auth", "keys", "create",
            "--project", gantry.DEFAULT_PROJECT, "--role", role, token=admin,
        )  # fmt: skip
        return json.loads(created)["token"]

    operator, worker_key = key("operator"), key("worker")
    with gantry.Client(endpoint) as anonymous:
        with pytest.raises(gantry.GantryError) as refused:
            anonymous.register(*seed.TASKS)
        assert "UNAUTHENTICATED" in str(refused.value)
        assert "authentication required" in str(refused.value)
        assert operator not in str(refused.value)

    with gantry.Client(endpoint, token=operator) as client:
        client.register(*seed.TASKS)
        worker = gantry.Worker(endpoint, tasks=seed.TASKS, concurrency=4, token=worker_key)
        worker.start()
        try:
            assert worker.error is None
            execution = client.run(seed.generate_others, tasks_count=5)
            assert execution.result() == [0, 2, 4, 6, 8]
        finally:
            worker.stop(wait=True, timeout=30)
            worker.close()
