"""The Python SDK against a server with authentication over TLS (`gantry server --auth keys --tls-cert --tls-key`, its
own process on a SQLite file, certificates made in the test by tls_files.py): a token only ever travels over TLS. The
first admin key is made with the CLI straight on the store, a project and keys through the CLI (`--ca-file`), the seed
registered and run by a client with an operator's token while a worker with a worker key runs it (both with
`ca_file=` and `token=`), and the same calls refused without a token. Readiness is read from the process's output,
never waited for with sleeps."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

import gantry
import seed
from conftest import binary, stop
from tls_files import Pki, start_tls_server


def gantry_cli(*args: str, token: str | None = None) -> str:
    env = {name: value for name, value in os.environ.items() if not name.startswith("GANTRY_")}
    if token is not None:
        env["GANTRY_TOKEN"] = token
    done = subprocess.run([binary("gantry"), *args], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def authenticated(tmp_path_factory, logs_dir):
    """`(endpoint, CA file, admin token)` of a TLS server with API keys on."""
    pki = Pki(tmp_path_factory.mktemp("auth-pki"))
    admin = gantry_cli(
        "--output", "json", "auth", "keys", "create", "--role", "admin", "--data-path", pki.path("auth.db")
    )  # fmt: skip
    server = start_tls_server(pki, logs_dir, "auth", "--auth", "keys")
    assert server.endpoint.startswith("https://")
    yield server.endpoint, pki.path("ca.pem"), json.loads(admin)["token"]
    stop(server.process)


def assert_unauthenticated(error: gantry.GantryError, token: str) -> None:
    """Refused by authentication (past TLS, which a `TlsError` would have named), without echoing the token."""
    assert not isinstance(error, gantry.TlsError), error
    assert "UNAUTHENTICATED" in str(error)
    assert "authentication required" in str(error)
    assert token not in str(error)


def test_the_seed_runs_with_tokens_over_tls(authenticated):
    endpoint, ca_file, admin = authenticated
    at = ("--endpoint", endpoint, "--ca-file", ca_file)
    gantry_cli(*at, "projects", "create", gantry.DEFAULT_PROJECT, token=admin)

    def key(role: str) -> str:
        created = gantry_cli(
            *at, "--output", "json", "auth", "keys", "create",
            "--project", gantry.DEFAULT_PROJECT, "--role", role, token=admin,
        )  # fmt: skip
        return json.loads(created)["token"]

    operator, worker_key = key("operator"), key("worker")
    with gantry.Client(endpoint, ca_file=ca_file) as anonymous:
        with pytest.raises(gantry.GantryError) as refused:
            anonymous.register(*seed.TASKS)
        assert_unauthenticated(refused.value, operator)

    anonymous_worker = gantry.Worker(endpoint, tasks=seed.TASKS, ca_file=ca_file)
    try:
        # The poll loop stops on the refusal instead of retrying.
        with pytest.raises(gantry.GantryError) as refused:
            anonymous_worker.run()
        assert_unauthenticated(refused.value, worker_key)
    finally:
        anonymous_worker.close()

    with gantry.Client(endpoint, ca_file=ca_file, token=operator) as client:
        client.register(*seed.TASKS)
        worker = gantry.Worker(endpoint, tasks=seed.TASKS, concurrency=4, ca_file=ca_file, token=worker_key)
        worker.start()
        try:
            assert worker.error is None
            execution = client.run(seed.generate_others, tasks_count=10)
            assert execution.result(timeout=120) == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
        finally:
            worker.stop(wait=True, timeout=30)
            worker.close()
