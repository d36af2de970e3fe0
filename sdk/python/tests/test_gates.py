"""Gate nodes from a Python dynamic task, against the real server: a signal (`gantry.wait_for_input`) set from the
Python client, whose value a task then consumes; an approval (`gantry.approve`) approved, which passes its value on,
and one rejected, which fails with `gate_rejected`; a signal gate timing out (`gate_timeout`); a sleep whose
downstream task waits for it (`node.after`); two gates opened by one value. And the signals API's answers: a value of
the wrong type is refused with INVALID_ARGUMENT and changes nothing, the same value again is `changed=False`, another
value FAILED_PRECONDITION, a signal no gate waits for NOT_FOUND.

Events are waited for by watching the execution (with a deadline), never with sleeps. These tasks use a queue of
their own, served by this module's worker.
"""

from __future__ import annotations

import datetime as dt

import grpc
import pytest

import gantry
from conftest import running
from gantry_processes import wait_until_running
from gantry import dynamic_task, task
from gantry.dynamic import build_spec
from gantry.types import literal_type
from gantry.v1 import admin_pb2, execution_pb2, types_pb2

QUEUE = "pytest-gates"
PROJECT = {"project": "pytest", "domain": "dev", "queue": QUEUE}
TIMEOUT = 60


@task(**PROJECT)
def triple(x: int) -> int:
    return 3 * x


@dynamic_task(**PROJECT)
def ask_then_triple(signal: str) -> int:
    """Waits for the integer signal `signal`, then triples it."""
    value = gantry.wait_for_input(signal, int)
    yield value
    tripled = triple(x=value)
    yield tripled
    return tripled


@dynamic_task(**PROJECT)
def triple_then_approve(x: int) -> int:
    """Triples `x` and passes the result on once approved (`review`)."""
    tripled = triple(x=x)
    yield tripled
    approved = gantry.approve(tripled.outputs.out, "review")
    yield approved
    return approved.outputs.o0


@dynamic_task(**PROJECT)
def ask_briefly(seconds: float) -> int:
    """Waits for `late` for `seconds` at most."""
    value = gantry.wait_for_input("late", int, timeout=dt.timedelta(seconds=seconds))
    yield value
    return value


@dynamic_task(**PROJECT)
def sleep_then_triple(x: int) -> int:
    """Sleeps one second, then triples `x`: the task binds nothing of the sleep, so it says it runs after it."""
    pause = gantry.sleep(dt.timedelta(seconds=1))
    yield pause
    tripled = triple(x=x).after(pause)
    yield tripled
    return tripled


@task(**PROJECT)
def add(a: int, b: int) -> int:
    return a + b


@dynamic_task(**PROJECT)
def ask_twice() -> int:
    """Two gates waiting for one signal, `both`: one value opens them both."""
    first = gantry.wait_for_input("both", int)
    yield first
    second = gantry.wait_for_input("both", int)
    yield second
    total = add(a=first, b=second)
    yield total
    return total


TASKS = [triple, add, ask_then_triple, triple_then_approve, ask_briefly, sleep_then_triple, ask_twice]


@pytest.fixture(scope="module")
def gates_worker(server, client):
    client.register(*TASKS)
    worker = gantry.Worker(server, tasks=TASKS, queues=[QUEUE], concurrency=4)
    with running(worker):
        yield worker


def local_id(node_id: str) -> str:
    """`dn0` of `n0/0/dn0`."""
    return node_id.rsplit("/", 1)[-1]


def children(execution: gantry.Execution) -> dict[str, execution_pb2.NodeExecution]:
    """The dynamic task's children (under `n0`) by their spec ids."""
    return {local_id(node.node_id): node for node in execution.nodes(parent="n0")}


def created_at(execution: gantry.Execution) -> dt.datetime:
    """When the execution was created: a signal of it cannot have been set earlier."""
    return gantry.types.datetime_of(execution.get().created_at)


def wait_for_gate(client: gantry.Client, execution: gantry.Execution, gate: str) -> execution_pb2.NodePhaseChange:
    """Watches the execution until its child `gate` (`dn0`, ...) runs, which is when it waits."""
    return wait_until_running(client, execution.id, f"/{gate}", TIMEOUT)


def waiting(client: gantry.Client, execution: gantry.Execution) -> list[gantry.Signal]:
    return [signal for signal in client.list_signals(execution.id) if signal.node_id]


def test_the_spec_of_gates():
    spec = build_spec(sleep_then_triple, {"x": 1})
    pause, tripled = spec.nodes
    assert pause.WhichOneof("target") == "gate" and pause.gate.sleep.ToTimedelta() == dt.timedelta(seconds=1)
    assert not pause.inputs and not pause.gate.HasField("timeout")
    assert list(tripled.upstream) == ["dn0"]

    (asked,) = build_spec(ask_briefly, {"seconds": 1.5}).nodes
    assert asked.gate.signal.signal_id == "late" and asked.gate.signal.output_variable_name == "o0"
    assert asked.gate.signal.type == literal_type(int)
    assert asked.gate.timeout.ToTimedelta() == dt.timedelta(seconds=1.5)

    spec = build_spec(triple_then_approve, {"x": 1})
    approval = spec.nodes[1]
    assert approval.gate.approve.signal_id == "review"
    assert [(b.var, b.binding.promise.node_id, b.binding.promise.output) for b in approval.inputs] == [
        ("o0", "dn0", "out")
    ]
    assert spec.outputs[0].binding.promise.node_id == "dn1" and spec.outputs[0].binding.promise.output == "o0"


def test_malformed_gates_are_refused_where_they_are_made():
    with pytest.raises(ValueError, match="signal id"):
        gantry.wait_for_input("has space", int)
    with pytest.raises(ValueError, match="signal id"):
        gantry.approve(1, "x" * 64)
    with pytest.raises(ValueError, match="must be positive"):
        gantry.sleep(dt.timedelta(0))
    with pytest.raises(ValueError, match="must be positive"):
        gantry.wait_for_input("ok", int, timeout=dt.timedelta(seconds=-1))
    with pytest.raises(TypeError, match="no overrides"):
        gantry.sleep(dt.timedelta(seconds=1)).with_overrides(retries=2)


def test_a_signal_set_from_the_client_feeds_the_task_after_the_gate(client, gates_worker):
    execution = client.run(ask_then_triple, signal="amount")
    wait_for_gate(client, execution, "dn0")
    (signal,) = client.list_signals(execution.id)
    listed = (signal.signal_id, local_id(signal.node_id), signal.approval, signal.is_set)
    assert listed == ("amount", "dn0", False, False)
    assert signal.type == literal_type(int) and signal.deadline is None and signal.value is None

    assert client.set_signal(execution.id, "amount", 14) is True
    assert execution.result(timeout=TIMEOUT) == 42
    nodes = children(execution)
    gate, tripled = nodes["dn0"], nodes["dn1"]
    assert (gate.kind, gate.phase) == (execution_pb2.NODE_KIND_GATE, execution_pb2.NODE_PHASE_SUCCEEDED)
    assert gate.attempts == 0 and not gate.HasField("target")
    assert execution.node_data(gate.node_id).outputs.literals["o0"].integer == 14
    assert tripled.phase == execution_pb2.NODE_PHASE_SUCCEEDED
    assert execution.node_data(tripled.node_id).inputs.literals["x"].integer == 14
    # The set signal stays listed, with its value and who set it, and no gate waiting for it.
    (done,) = client.list_signals(execution.id)
    assert (done.signal_id, done.node_id, done.is_set, done.value) == ("amount", "", True, 14)
    assert done.set_at is not None and done.set_at >= created_at(execution)
    assert done.set_by


def test_a_value_of_the_wrong_type_is_refused_and_the_gate_still_waits(client, gates_worker):
    execution = client.run(ask_then_triple, signal="count")
    wait_for_gate(client, execution, "dn0")
    with pytest.raises(gantry.GantryError, match="INVALID_ARGUMENT") as refused:
        client.set_signal(execution.id, "count", "fourteen")
    assert "count" in str(refused.value)
    # Nothing changed: the gate still waits, the signal is not set, the execution runs.
    (signal,) = client.list_signals(execution.id)
    assert (signal.signal_id, local_id(signal.node_id), signal.is_set) == ("count", "dn0", False)
    assert children(execution)["dn0"].phase == execution_pb2.NODE_PHASE_RUNNING
    assert execution.get().phase == execution_pb2.EXECUTION_PHASE_RUNNING

    assert client.set_signal(execution.id, "count", 5) is True
    assert execution.result(timeout=TIMEOUT) == 15


def test_the_same_value_again_changes_nothing_and_another_is_refused(client, gates_worker):
    execution = client.run(ask_then_triple, signal="once")
    wait_for_gate(client, execution, "dn0")
    assert client.set_signal(execution.id, "once", 7) is True
    assert client.set_signal(execution.id, "once", 7) is False
    with pytest.raises(gantry.GantryError, match="FAILED_PRECONDITION"):
        client.set_signal(execution.id, "once", 8)
    assert execution.result(timeout=TIMEOUT) == 21
    (signal,) = client.list_signals(execution.id)
    assert (signal.is_set, signal.value) == (True, 7)


def test_the_same_value_again_after_the_execution_ended_changes_nothing(client, gates_worker):
    execution = client.run(ask_then_triple, signal="retried")
    wait_for_gate(client, execution, "dn0")
    assert client.set_signal(execution.id, "retried", 2) is True
    assert execution.result(timeout=TIMEOUT) == 6
    assert client.set_signal(execution.id, "retried", 2) is False


def test_a_signal_no_gate_waits_for_is_not_found(client, gates_worker):
    execution = client.run(ask_then_triple, signal="expected")
    wait_for_gate(client, execution, "dn0")
    with pytest.raises(gantry.GantryError, match="NOT_FOUND"):
        client.set_signal(execution.id, "unexpected", 1)
    assert [s.signal_id for s in client.list_signals(execution.id)] == ["expected"]
    assert client.set_signal(execution.id, "expected", 1) is True
    assert execution.result(timeout=TIMEOUT) == 3


def test_one_value_opens_every_gate_waiting_for_it(client, gates_worker):
    execution = client.run(ask_twice)
    wait_for_gate(client, execution, "dn1")
    listed = [(s.signal_id, local_id(s.node_id)) for s in client.list_signals(execution.id)]
    assert listed == [("both", "dn0"), ("both", "dn1")]
    response = client.admin.SetSignal(
        admin_pb2.SetSignalRequest(execution_id=execution.id, signal_id="both", value=gantry.types.to_literal(4))
    )
    assert response.changed and sorted(local_id(n) for n in response.opened_node_ids) == ["dn0", "dn1"]
    assert execution.result(timeout=TIMEOUT) == 8
    nodes = children(execution)
    assert [nodes[n].phase for n in ("dn0", "dn1")] == [execution_pb2.NODE_PHASE_SUCCEEDED] * 2


def test_an_approved_value_is_passed_on(client, gates_worker):
    execution = client.run(triple_then_approve, x=4)
    wait_for_gate(client, execution, "dn1")
    (signal,) = waiting(client, execution)
    assert (signal.signal_id, local_id(signal.node_id), signal.approval) == ("review", "dn1", True)
    assert signal.type == types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_BOOLEAN)

    assert client.approve(execution.id, "review") is True
    assert execution.result(timeout=TIMEOUT) == 12
    gate = children(execution)["dn1"]
    assert (gate.kind, gate.phase) == (execution_pb2.NODE_KIND_GATE, execution_pb2.NODE_PHASE_SUCCEEDED)
    data = execution.node_data(gate.node_id)
    assert data.inputs.literals["o0"].integer == 12 and data.outputs.literals["o0"].integer == 12
    (done,) = client.list_signals(execution.id)
    assert (done.is_set, done.value, done.node_id) == (True, True, "")


def test_a_rejected_approval_fails_the_execution(client, gates_worker):
    execution = client.run(triple_then_approve, x=4)
    wait_for_gate(client, execution, "dn1")
    assert client.reject(execution.id, "review") is True
    with pytest.raises(gantry.ExecutionFailed) as failed:
        execution.result(timeout=TIMEOUT)
    assert failed.value.phase == "FAILED"
    gate = children(execution)["dn1"]
    assert (gate.kind, gate.phase) == (execution_pb2.NODE_KIND_GATE, execution_pb2.NODE_PHASE_FAILED)
    assert gate.error.code == "gate_rejected" and "review" in gate.error.message
    assert gate.error.kind == execution_pb2.ERROR_KIND_USER and not gate.error.recoverable
    (parent,) = execution.nodes()
    assert parent.phase == execution_pb2.NODE_PHASE_FAILED
    # Approving now is too late: it was set to false.
    with pytest.raises(gantry.GantryError, match="FAILED_PRECONDITION"):
        client.approve(execution.id, "review")


def test_a_gate_past_its_timeout_times_out(client, gates_worker):
    execution = client.run(ask_briefly, seconds=1.0)
    gate_running = wait_for_gate(client, execution, "dn0")
    (signal,) = client.list_signals(execution.id)
    assert signal.deadline is not None
    with pytest.raises(gantry.ExecutionFailed) as failed:
        execution.result(timeout=TIMEOUT)
    gate = children(execution)["dn0"]
    assert gate_running.node_id == gate.node_id
    assert (gate.kind, gate.phase) == (execution_pb2.NODE_KIND_GATE, execution_pb2.NODE_PHASE_TIMED_OUT)
    assert gate.error.code == "gate_timeout"
    waited = gate.finished_at.ToDatetime() - gate.started_at.ToDatetime()
    assert waited >= dt.timedelta(seconds=1), waited
    assert failed.value.phase == "FAILED" and failed.value.error.code == "gate_timeout", failed.value
    # Nothing waits any more, and a late value is refused: the execution is over.
    assert client.list_signals(execution.id) == []
    with pytest.raises(gantry.GantryError, match="FAILED_PRECONDITION"):
        client.set_signal(execution.id, "late", 1)


def test_a_sleep_holds_back_the_node_that_runs_after_it(client, gates_worker):
    execution = client.run(sleep_then_triple, x=5)
    assert execution.result(timeout=TIMEOUT) == 15
    nodes = children(execution)
    pause, tripled = nodes["dn0"], nodes["dn1"]
    assert (pause.kind, pause.phase) == (execution_pb2.NODE_KIND_GATE, execution_pb2.NODE_PHASE_SUCCEEDED)
    slept = pause.finished_at.ToDatetime() - pause.started_at.ToDatetime()
    assert slept >= dt.timedelta(seconds=1), slept
    assert tripled.started_at.ToDatetime() >= pause.finished_at.ToDatetime()
    # A sleep has no outputs, and no signal: nothing lists it.
    assert not execution.node_data(pause.node_id).outputs.literals
    assert client.list_signals(execution.id) == []


def test_signals_of_an_unknown_execution_are_not_found(client):
    with pytest.raises(gantry.GantryError, match="NOT_FOUND"):
        client.list_signals("00000000-0000-0000-0000-000000000000")
    with pytest.raises(gantry.GantryError, match="NOT_FOUND"):
        client.approve("00000000-0000-0000-0000-000000000000", "review")


def test_grpc_codes_are_the_documented_ones(client, gates_worker):
    """The raw API, as other clients see it: the code of a wrong-typed value is INVALID_ARGUMENT."""
    execution = client.run(ask_then_triple, signal="raw")
    wait_for_gate(client, execution, "dn0")
    request = admin_pb2.SetSignalRequest(
        execution_id=execution.id, signal_id="raw", value=gantry.types.to_literal(1.5)
    )
    with pytest.raises(grpc.RpcError) as refused:
        client.admin.SetSignal(request)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    response = client.admin.SetSignal(
        admin_pb2.SetSignalRequest(execution_id=execution.id, signal_id="raw", value=gantry.types.to_literal(2))
    )
    assert response.changed and [local_id(n) for n in response.opened_node_ids] == ["dn0"]
    assert execution.result(timeout=TIMEOUT) == 6
