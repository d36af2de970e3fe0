"""One execution across languages: a Python dynamic task yields Rust tasks, one of which is a Rust dynamic task
that yields Python tasks (crates/gantry-examples/src/cross_language.rs)."""

from __future__ import annotations

import tasks
from gantry.v1 import admin_pb2, execution_pb2


def worker_of(client, execution_id, node_id):
    request = admin_pb2.ListTaskAttemptsRequest(execution_id=execution_id, node_id=node_id)
    (attempt,) = client.admin.ListTaskAttempts(request).attempts
    return attempt.worker_id


def test_python_yields_rust_which_yields_python(client, py_worker, rust_worker):
    n = 4
    execution = client.run(tasks.py_cross, n=n)
    assert execution.outputs(timeout=120) == {"doubled": [0, 2, 4, 6], "squared": [0, 1, 4, 9]}

    (top,) = execution.nodes()
    assert top.target.name == "py_cross" and top.is_dynamic_parent
    assert worker_of(client, execution.id, top.node_id) == py_worker.worker_id

    children = execution.nodes(parent=top.node_id)
    names = [child.target.name for child in children]
    assert names.count("other_task") == n and names.count("rust_fans_out_python") == 1
    for child in children:
        assert child.phase == execution_pb2.NODE_PHASE_SUCCEEDED
        # Rust ran the Rust tasks: not this Python worker.
        assert worker_of(client, execution.id, child.node_id) != py_worker.worker_id

    (rust_dynamic,) = [child for child in children if child.target.name == "rust_fans_out_python"]
    assert rust_dynamic.is_dynamic_parent
    grandchildren = execution.nodes(parent=rust_dynamic.node_id)
    assert [g.target.name for g in grandchildren] == ["py_square"] * n
    for grandchild in grandchildren:
        assert worker_of(client, execution.id, grandchild.node_id) == py_worker.worker_id


def test_a_rust_dynamic_of_python_tasks_on_its_own(client, rust_worker):
    result = client.run(tasks.rust_fans_out_python, count=5).result(timeout=60)
    assert result == [0, 1, 4, 9, 16]
