"""The seed example (examples/seed.py) end to end: generate_others(tasks_count) on the Python worker."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

import seed
from conftest import binary
from gantry.v1 import execution_pb2


@pytest.mark.parametrize("tasks_count", [0, 1, 100, 1000])
def test_seed_outputs_and_node_tree(client, tasks_count):
    started = time.monotonic()
    execution = client.run(seed.generate_others, tasks_count=tasks_count)
    assert execution.result(timeout=300) == [2 * i for i in range(tasks_count)]
    elapsed = time.monotonic() - started
    print(f"seed tasks_count={tasks_count}: {elapsed:.2f}s")

    (top,) = execution.nodes()
    assert top.phase == execution_pb2.NODE_PHASE_SUCCEEDED
    assert top.target.name == "py_generate_others"
    assert top.is_dynamic_parent
    children = execution.nodes(parent=top.node_id)
    assert len(children) == tasks_count
    assert all(child.phase == execution_pb2.NODE_PHASE_SUCCEEDED for child in children)
    assert all(child.target.name == "py_other_task" for child in children)
    assert all(child.parent_node_id == top.node_id for child in children)
    # Children are scoped by the parent and its attempt, ids in yield order.
    assert {child.node_id for child in children} == {f"{top.node_id}/0/dn{i}" for i in range(tasks_count)}


def test_the_spec_is_the_seeds(client):
    execution = client.run(seed.generate_others, tasks_count=3)
    execution.wait(timeout=60)
    (top,) = execution.nodes()
    spec = execution.node_data(top.node_id).dynamic_spec
    assert [node.id for node in spec.nodes] == ["dn0", "dn1", "dn2"]
    assert [node.inputs[0].binding.literal.integer for node in spec.nodes] == [0, 1, 2]
    (out,) = spec.outputs
    assert out.var == "out"
    promises = [item.promise for item in out.binding.collection.bindings]
    assert [(p.node_id, p.output) for p in promises] == [(f"dn{i}", "other_task_out") for i in range(3)]
    # The yielded task's template ships with the spec.
    assert [task.id.name for task in spec.tasks] == ["py_other_task"]


def test_watch_streams_every_change_until_the_terminal_phase(client):
    execution = client.run(seed.generate_others, tasks_count=5)
    changes = list(execution.watch())
    last = changes[-1]
    assert last.WhichOneof("change") == "execution"
    assert last.execution.phase == execution_pb2.EXECUTION_PHASE_SUCCEEDED
    succeeded_children = {
        change.node.node_id
        for change in changes
        if change.WhichOneof("change") == "node"
        and change.node.parent_node_id
        and change.node.phase == execution_pb2.NODE_PHASE_SUCCEEDED
    }
    assert len(succeeded_children) == 5
    sequences = [change.sequence for change in changes if change.sequence]
    assert sequences == sorted(sequences)


def test_the_cli_lists_what_python_started(client, server):
    """One default project and domain: an execution the Python client starts with no project or domain shows in a
    plain `gantry list`, and its task in `gantry task list`."""
    execution = client.run(seed.generate_others, tasks_count=2)
    execution.wait(timeout=60)
    env = {key: value for key, value in os.environ.items() if not key.startswith("GANTRY_")}
    listed = subprocess.run(
        [binary("gantry"), "--endpoint", server, "--output", "json", "list", "--limit", "1000"],
        check=True, capture_output=True, text=True, env=env,
    )
    assert execution.id in {e["id"] for e in json.loads(listed.stdout)}
    tasks = subprocess.run(
        [binary("gantry"), "--endpoint", server, "--output", "json", "task", "list", "--name", "py_generate_others"],
        check=True, capture_output=True, text=True, env=env,
    )
    assert json.loads(tasks.stdout) == ["demo/dev/py_generate_others@1"]
