"""Failures keep Flyte's meaning: a user error fails at once (one attempt), a recoverable error is retried under the
task's retries (three attempts for retries=2). Terminating an execution and an attempt's timeout kill the running
flytekit process and its process group (the task writes its pid and a helper's into a FIFO; both must end). A
process that writes nothing is a recoverable `ContainerFailed`. Recovering an execution whose
child failed reuses the children that succeeded."""

from __future__ import annotations

import pytest

import gantry
from gantry.v1 import admin_pb2, execution_pb2

from helpers import TIMEOUT, alive, all_nodes, attempts, ends_within, outputs, read_pids, run


def failed(execution: gantry.Execution) -> execution_pb2.ExecutionError:
    with pytest.raises(gantry.ExecutionFailed) as raised:
        execution.result(timeout=TIMEOUT)
    return raised.value.error


def test_user_error_is_not_retried(client):
    execution = run(client, "features_flyte.failing_task", x=7)
    error = failed(execution)
    assert error.kind == execution_pb2.ERROR_KIND_USER and not error.recoverable
    assert error.code.startswith("USER:")
    assert "failing_task refuses 7" in error.message
    (node,) = all_nodes(client, execution)
    assert node.phase == execution_pb2.NODE_PHASE_FAILED and node.attempts == 1


def test_recoverable_error_is_retried_twice(client):
    execution = run(client, "features_flyte.recoverable_task", x=7)
    error = failed(execution)
    assert error.kind == execution_pb2.ERROR_KIND_USER and error.recoverable
    assert error.code == "USER:Recoverable"
    (node,) = all_nodes(client, execution)
    assert node.attempts == 3
    tries = attempts(client, execution, node.node_id)
    assert [a.phase for a in tries] == [execution_pb2.ATTEMPT_PHASE_FAILED] * 3


def test_terminate_kills_the_process(client, tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    execution = run(client, "features_flyte.sleeper", pid_file=str(pid_file))
    pids = read_pids(pid_file)
    assert all(alive(pid) for pid in pids)
    execution.terminate("the test is done with it")
    assert execution.wait(timeout=TIMEOUT).phase == execution_pb2.EXECUTION_PHASE_ABORTED
    for pid in pids:
        assert ends_within(pid, 15), f"process {pid} outlived the terminated execution"


def test_timeout_kills_the_process(client, tmp_path):
    pid_file = tmp_path / "slow.pid"
    execution = run(client, "features_flyte.slow_sleeper", pid_file=str(pid_file))
    pids = read_pids(pid_file)
    final = execution.wait(timeout=TIMEOUT)
    assert final.phase in (execution_pb2.EXECUTION_PHASE_TIMED_OUT, execution_pb2.EXECUTION_PHASE_FAILED)
    (node,) = all_nodes(client, execution)
    assert node.phase == execution_pb2.NODE_PHASE_TIMED_OUT
    for pid in pids:
        assert ends_within(pid, 15), f"process {pid} outlived its timeout"


def test_a_process_that_wrote_nothing_is_a_recoverable_container_failure(client):
    execution = run(client, "features_flyte.crash", x=1)
    error = failed(execution)
    assert error.kind == execution_pb2.ERROR_KIND_USER and error.recoverable
    assert error.code == "ContainerFailed"
    (node,) = all_nodes(client, execution)
    assert node.attempts == 1, "the task has no user retries"


def test_recover_reuses_the_children_that_succeeded(client, tmp_path):
    marker = tmp_path / "marker"
    execution = run(client, "features_flyte.dyn_recover", n=3, marker=str(marker))
    error = failed(execution)
    assert "does not exist yet" in error.message, "the parent fails with its child's error"
    first = {n.node_id: n for n in all_nodes(client, execution)}
    assert (
        sorted(n.target.name for n in first.values() if n.phase == execution_pb2.NODE_PHASE_SUCCEEDED)
        == ["features_flyte.double"] * 3
    )
    marker.write_text("present")
    response = client.admin.RecoverExecution(admin_pb2.RecoverExecutionRequest(id=execution.id))
    recovered = client.execution(response.execution.id)
    assert outputs(recovered) == {"o0": 0 + 2 + 4}
    nodes = all_nodes(client, recovered)
    doubles = [n for n in nodes if n.target.name == "features_flyte.double"]
    assert len(doubles) == 3
    assert all(n.phase == execution_pb2.NODE_PHASE_RECOVERED for n in doubles), [
        execution_pb2.NodePhase.Name(n.phase) for n in doubles
    ]
    (needs,) = [n for n in nodes if n.target.name == "features_flyte.needs_marker"]
    assert needs.phase == execution_pb2.NODE_PHASE_SUCCEEDED and needs.attempts == 1
