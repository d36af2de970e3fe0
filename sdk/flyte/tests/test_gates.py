"""flytekit's gate nodes on Gantry (examples/gates_flyte.py), registered with `gantry-flyte register` and run by the
bridge worker: `wait_for_input` in a workflow, set through Gantry's Python client and consumed by a task; `approve`
of a task's output, approved (the value goes on) and rejected (`gate_rejected`); `sleep` ordered before a task with
`>>`; a signal past its timeout (`gate_timeout`); and all three inside a `@dynamic`, from futures.pb. Events are waited
for by watching the execution, with a deadline."""

from __future__ import annotations

import datetime as dt

import pytest

import gantry
from gantry.types import literal_type
from gantry.v1 import execution_pb2

from conftest import VERSION, register
from gantry_processes import wait_until_running
from helpers import TIMEOUT, all_nodes, outputs, run


@pytest.fixture(scope="module")
def gates(server, client):
    """gates_flyte registered (on queue `flyte`, which the session's bridge worker serves)."""
    register(server, VERSION, "flyte", ("gates_flyte",))
    return client


def by_id(client: gantry.Client, execution: gantry.Execution) -> dict[str, execution_pb2.NodeExecution]:
    return {node.node_id: node for node in all_nodes(client, execution)}


def wait_for_gate(client: gantry.Client, execution: gantry.Execution, node_id: str) -> None:
    """Watches the execution until node `node_id` (scoped) runs, which is when a gate waits."""
    wait_until_running(client, execution.id, node_id, TIMEOUT)


def seconds_between(earlier, later) -> dt.timedelta:
    return later.ToDatetime() - earlier.ToDatetime()


def test_a_signal_in_a_workflow_is_set_through_the_gantry_client(gates):
    client = gates
    execution = run(client, "gates_flyte.signal_wf", kind="workflow", x=6)
    wait_for_gate(client, execution, "n0")
    (signal,) = client.list_signals(execution.id)
    assert (signal.signal_id, signal.node_id, signal.approval, signal.is_set) == ("factor", "n0", False, False)
    assert signal.type == literal_type(int)
    # flytekit's timeout (10 minutes here) is the gate's.
    assert signal.deadline is not None and signal.deadline > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)

    # A value of the wrong type is refused, and changes nothing.
    with pytest.raises(gantry.GantryError, match="INVALID_ARGUMENT"):
        client.set_signal(execution.id, "factor", "seven")
    (still,) = client.list_signals(execution.id)
    assert (still.node_id, still.is_set) == ("n0", False)

    assert client.set_signal(execution.id, "factor", 7) is True
    assert client.set_signal(execution.id, "factor", 7) is False
    assert outputs(execution) == {"o0": 42}
    nodes = by_id(client, execution)
    gate, product = nodes["n0"], nodes["n1"]
    assert (gate.kind, gate.phase) == (execution_pb2.NODE_KIND_GATE, execution_pb2.NODE_PHASE_SUCCEEDED)
    assert product.target.name == "gates_flyte.times" and product.phase == execution_pb2.NODE_PHASE_SUCCEEDED
    assert execution.node_data("n0").outputs.literals["o0"].integer == 7


def test_an_approved_value_goes_on(gates):
    client = gates
    execution = run(client, "gates_flyte.approve_wf", kind="workflow", x=4)
    wait_for_gate(client, execution, "n1")
    (signal,) = [s for s in client.list_signals(execution.id) if s.node_id]
    assert (signal.signal_id, signal.node_id, signal.approval) == ("review", "n1", True)
    assert client.approve(execution.id, "review") is True
    assert outputs(execution) == {"o0": 6}
    nodes = by_id(client, execution)
    assert (nodes["n1"].kind, nodes["n1"].phase) == (execution_pb2.NODE_KIND_GATE, execution_pb2.NODE_PHASE_SUCCEEDED)
    data = execution.node_data("n1")
    assert data.inputs.literals["o0"].integer == 5 and data.outputs.literals["o0"].integer == 5


def test_a_rejected_approval_fails_the_workflow(gates):
    client = gates
    execution = run(client, "gates_flyte.approve_wf", kind="workflow", x=4)
    wait_for_gate(client, execution, "n1")
    assert client.reject(execution.id, "review") is True
    with pytest.raises(gantry.ExecutionFailed) as failed:
        execution.result(timeout=TIMEOUT)
    assert failed.value.phase == "FAILED"
    nodes = by_id(client, execution)
    gate = nodes["n1"]
    assert gate.phase == execution_pb2.NODE_PHASE_FAILED and gate.error.code == "gate_rejected"
    # The task after it never ran.
    assert nodes.get("n2") is None or nodes["n2"].phase != execution_pb2.NODE_PHASE_SUCCEEDED


def test_a_sleep_holds_back_the_task_after_it(gates):
    client = gates
    execution = run(client, "gates_flyte.sleep_wf", kind="workflow", x=5)
    assert outputs(execution) == {"o0": 6}
    nodes = by_id(client, execution)
    pause, task = nodes["n0"], nodes["n1"]
    assert (pause.kind, pause.phase) == (execution_pb2.NODE_KIND_GATE, execution_pb2.NODE_PHASE_SUCCEEDED)
    slept = seconds_between(pause.started_at, pause.finished_at)
    assert slept >= dt.timedelta(seconds=1), slept
    assert task.started_at.ToDatetime() >= pause.finished_at.ToDatetime()
    assert client.list_signals(execution.id) == []


def test_a_signal_past_its_timeout_times_out(gates):
    client = gates
    execution = run(client, "gates_flyte.brief_wf", kind="workflow", x=5)
    with pytest.raises(gantry.ExecutionFailed) as failed:
        execution.result(timeout=TIMEOUT)
    assert failed.value.phase == "FAILED" and failed.value.error.code == "gate_timeout"
    gate = by_id(client, execution)["n0"]
    assert (gate.kind, gate.phase) == (execution_pb2.NODE_KIND_GATE, execution_pb2.NODE_PHASE_TIMED_OUT)
    assert gate.error.code == "gate_timeout"
    waited = seconds_between(gate.started_at, gate.finished_at)
    assert waited >= dt.timedelta(seconds=1), waited


def test_all_three_in_a_dynamic(gates):
    client = gates
    execution = run(client, "gates_flyte.dyn_gates", x=3)
    # futures.pb: dn0 the sleep, dn1 the signal, dn2 the product, dn3 the approval, dn4 plus one.
    wait_for_gate(client, execution, "n0/0/dn1")
    assert client.set_signal(execution.id, "factor", 5) is True
    wait_for_gate(client, execution, "n0/0/dn3")
    (approval,) = [s for s in client.list_signals(execution.id) if s.node_id]
    assert (approval.signal_id, approval.node_id, approval.approval) == ("review", "n0/0/dn3", True)
    assert client.approve(execution.id, "review") is True
    assert outputs(execution) == {"o0": 16}

    nodes = by_id(client, execution)
    gates_run = {node_id: nodes[f"n0/0/{node_id}"] for node_id in ("dn0", "dn1", "dn3")}
    assert all(node.kind == execution_pb2.NODE_KIND_GATE for node in gates_run.values())
    assert all(node.phase == execution_pb2.NODE_PHASE_SUCCEEDED for node in gates_run.values())
    pause, product = gates_run["dn0"], nodes["n0/0/dn2"]
    assert seconds_between(pause.started_at, pause.finished_at) >= dt.timedelta(seconds=1)
    assert product.target.name == "gates_flyte.times"
    assert product.started_at.ToDatetime() >= pause.finished_at.ToDatetime()
    assert execution.node_data("n0/0/dn3").outputs.literals["o0"].integer == 15
    # Both signals stay listed, set, with no gate waiting any more.
    listed = {(s.signal_id, s.value, s.node_id) for s in client.list_signals(execution.id)}
    assert listed == {("factor", 5, ""), ("review", True, "")}
