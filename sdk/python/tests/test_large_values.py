"""Values too large for one response: the server sends references in their place and the SDK reads them, in the
client (results, node data, a dynamic spec) and in the worker (inputs from PollTasks). These tests run a server of
their own, on SQLite with a 4 MiB message limit, so that 3 MB is already more than a response carries (2 MiB of
values) and the tests stay quick."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time

import pytest
from conftest import LineWatcher, binary, stop

import gantry
from gantry import dynamic_task, task
from gantry.references import read

PROJECT = {"project": "pytest", "domain": "large"}
SIZE = 3_000_000


def pattern(n: int) -> str:
    unit = "".join(chr(ord("a") + (i * 7) % 26) for i in range(997))
    return (unit * (n // len(unit) + 1))[:n]


@task(**PROJECT)
def echo_text(text: str) -> str:
    return text


@task(**PROJECT)
def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dynamic_task(**PROJECT)
def bind_inline(n: int) -> str:
    """Binds a literal of `n` bytes in its spec: the child's inputs hold it in a row, not in the blob store."""
    child = yield echo_text(text=pattern(n))
    return child.outputs.out


@pytest.fixture(scope="module")
def small_server(tmp_path_factory, logs_dir) -> str:
    directory = tmp_path_factory.mktemp("large-values")
    log_path = logs_dir / "small-server.log"
    process = subprocess.Popen(
        [
            binary("gantry"),
            "server",
            "--http-listen",
            "127.0.0.1:0",
            "--listen",
            "127.0.0.1:0",
            "--data-path",
            str(directory / "gantry.db"),
            "--blob-store",
            str(directory / "blobs"),
            "--max-message-bytes",
            str(4 * 1024 * 1024),
        ],
        stdout=subprocess.PIPE,
        stderr=open(log_path, "w"),
        text=True,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
    )
    watcher = LineWatcher(process.stdout, logs_dir / "small-server.stdout", r"gantry listening on (http://\S+)")
    endpoint = watcher.wait("gantry server (4 MiB messages)", process, log_path).group(1)
    yield endpoint
    stop(process)


@pytest.fixture(scope="module")
def large_client(small_server) -> gantry.Client:
    worker = gantry.Worker(small_server, tasks=[echo_text, text_digest, bind_inline], concurrency=4, shutdown_grace=10)
    worker.register()
    worker.start()
    with gantry.Client(small_server) as client:
        yield client
    worker.stop(wait=True, timeout=30)
    worker.close()


def test_values_sent_by_reference_come_back_whole(large_client):
    text = pattern(SIZE)
    started = time.monotonic()
    execution = large_client.run(echo_text, text=text)
    assert execution.result(timeout=120) == text
    print(f"figure: a 3 MB echo ran and was read back in {time.monotonic() - started:.2f}s")
    # The worker read its input whole before the task ran.
    digest = large_client.run(text_digest, text=text).result(timeout=120)
    assert digest == hashlib.sha256(text.encode()).hexdigest()
    # Asked for, references are left unread: nothing large comes inline.
    data = execution.data(references=True)
    assert data.inputs.literals["text"].WhichOneof("value") == "offloaded"
    assert data.outputs.literals["out"].WhichOneof("value") == "offloaded"
    assert data.ByteSize() < 4096
    with pytest.raises(gantry.GantryError, match="NOT_FOUND"):
        read(large_client.admin, f"gantry:value?execution={execution.id}&map=inputs&name=nope")


def test_a_large_literal_bound_in_a_spec_is_read_by_reference(large_client):
    execution = large_client.run(bind_inline, n=SIZE)
    assert execution.result(timeout=120) == pattern(SIZE)
    [top] = execution.nodes()
    # The spec is larger than a response carries: it came by reference, read into `dynamic_spec`.
    spec = execution.node_data(top.node_id).dynamic_spec
    assert spec.nodes[0].inputs[0].binding.literal.string_value == pattern(SIZE)
    referenced = execution.node_data(top.node_id, references=True)
    assert referenced.HasField("dynamic_spec_reference") and not referenced.HasField("dynamic_spec")
    # The child's input is held in its row: a `gantry:` reference, which the worker read through PollTasks.
    [child] = execution.nodes(top.node_id)
    held = execution.node_data(child.node_id, references=True).inputs.literals["text"]
    assert held.offloaded.uri.startswith("gantry:value?")
    assert execution.node_data(child.node_id).inputs.literals["text"].string_value == pattern(SIZE)
