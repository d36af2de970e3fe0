"""A Python dynamic task yielding every kind of node the engine runs: a launch plan (a child execution), a
sub-workflow (registered), a branch, and a plain task, in one spec."""

from __future__ import annotations

import pytest

import tasks
from gantry.task import identifier
from gantry.types import literal_type
from gantry.v1 import execution_pb2, interface_pb2, workflow_pb2


def add_two_workflow():
    """`add_two(x) -> out`: add_one twice, as a registered workflow."""
    integer = literal_type(int)
    first = workflow_pb2.Node(
        id="first",
        task=tasks.add_one.id,
        inputs=[
            workflow_pb2.Binding(var="x", binding=workflow_pb2.BindingData(promise=workflow_pb2.Promise(output="x")))
        ],
    )
    second = workflow_pb2.Node(
        id="second",
        task=tasks.add_one.id,
        inputs=[
            workflow_pb2.Binding(
                var="x", binding=workflow_pb2.BindingData(promise=workflow_pb2.Promise(node_id="first", output="out"))
            )
        ],
    )
    return workflow_pb2.WorkflowTemplate(
        id=identifier("pytest", "dev", "add_two", "1"),
        interface=interface_pb2.TypedInterface(
            inputs=[interface_pb2.Variable(name="x", type=integer)],
            outputs=[interface_pb2.Variable(name="out", type=integer)],
        ),
        nodes=[first, second],
        outputs=[
            workflow_pb2.Binding(
                var="out",
                binding=workflow_pb2.BindingData(promise=workflow_pb2.Promise(node_id="second", output="out")),
            )
        ],
        failure_policy=workflow_pb2.FAILURE_POLICY_FAIL_IMMEDIATELY,
    )


@pytest.fixture(scope="module")
def every_kind(client):
    workflow = client.register_workflow(add_two_workflow(), inputs={"x": int}, outputs={"out": int})
    assert workflow.id == tasks.add_two.id
    # total(values, bonus) with the bonus fixed at 1000: callers see only `values`.
    plan = client.register_launch_plan(tasks.total, "total_with_bonus", fixed_inputs={"bonus": 1000})
    assert plan.id == tasks.total_with_bonus.id
    assert list(plan.interface.inputs) == ["values"]
    return tasks.every_node_kind


def test_launch_plan_sub_workflow_and_branch_nodes_run(client, every_kind):
    # n = 20: total([20, 20]) + 1000, add_two(20), the branch takes `v > 10`, then add_one of its output.
    execution = client.run(every_kind, n=20)
    assert execution.result(timeout=120) == [1040, 22, 101, 102]
    (top,) = execution.nodes()
    kinds = {child.node_id.rsplit("/", 1)[-1]: child for child in execution.nodes(parent=top.node_id)}
    assert kinds["dn0"].kind == execution_pb2.NODE_KIND_LAUNCH_PLAN and kinds["dn0"].child_execution_id
    assert kinds["dn1"].kind == execution_pb2.NODE_KIND_SUB_WORKFLOW
    assert kinds["dn2"].kind == execution_pb2.NODE_KIND_BRANCH
    assert kinds["dn3"].kind == execution_pb2.NODE_KIND_TASK
    # The launch plan started a child execution whose fixed input came from the plan.
    child = client.execution(kinds["dn0"].child_execution_id)
    assert child.get().phase == execution_pb2.EXECUTION_PHASE_SUCCEEDED
    assert client.inputs_of(child) == {"values": [20, 20], "bonus": 1000}


def test_the_other_arm_when_the_condition_fails(client, every_kind):
    # n = 1: add_two(1) = 3, not above 10, so the else arm: add_one(-1) = 0.
    assert client.run(every_kind, n=1).result(timeout=120) == [1002, 3, 0, 1]
