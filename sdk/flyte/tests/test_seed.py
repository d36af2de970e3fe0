"""The seed, `generate_others`, written with flytekit: as a task, inside a workflow and through the launch plan
whose default is 5; with 0 children flytekit writes outputs.pb instead of futures.pb."""

from __future__ import annotations

from gantry.v1 import execution_pb2

from expected import EXPECTED
from helpers import all_nodes, outputs, run, task_names


def test_generate_others_as_a_task(client):
    execution = run(client, "seed_flyte.generate_others", tasks_count=5)
    assert outputs(execution) == {"o0": EXPECTED["seed_5"]}
    nodes = all_nodes(client, execution)
    (parent,) = [n for n in nodes if not n.parent_node_id]
    assert parent.is_dynamic_parent and parent.attempts == 1
    children = [n for n in nodes if n.parent_node_id]
    assert task_names(children) == ["seed_flyte.other_task"] * 5
    assert all(n.phase == execution_pb2.NODE_PHASE_SUCCEEDED and n.attempts == 1 for n in children)


def test_generate_others_with_no_children(client):
    execution = run(client, "seed_flyte.generate_others", tasks_count=0)
    assert outputs(execution) == {"o0": EXPECTED["seed_0"]}
    (parent,) = all_nodes(client, execution)
    assert not parent.is_dynamic_parent


def test_the_seed_workflow(client):
    execution = run(client, "seed_flyte.wf", kind="workflow", tasks_count=5)
    assert outputs(execution) == {"o0": EXPECTED["seed_5"]}


def test_the_seed_workflow_uses_its_default(client):
    # flytekit keeps a workflow's defaults in its default launch plan; the registrar puts them on the workflow too.
    execution = run(client, "seed_flyte.wf", kind="workflow")
    assert outputs(execution) == {"o0": EXPECTED["seed_5"]}


def test_the_seed_launch_plan_uses_its_default(client):
    execution = run(client, "seed_lp", kind="launch_plan")
    assert outputs(execution) == {"o0": EXPECTED["seed_5"]}
    assert len([n for n in all_nodes(client, execution) if n.target.name == "seed_flyte.other_task"]) == 5
