"""Failures keep Flyte's meaning: a user error fails at once (one attempt), a recoverable error is retried under the
task's retries (three attempts for retries=2). Terminating an execution and an attempt's timeout kill the running
flytekit process (its pid file names it; `os.kill(pid, 0)` must fail afterwards). Recovering an execution whose
child failed reuses the children that succeeded."""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

import pytest

import gantry
from gantry.v1 import admin_pb2, execution_pb2

from helpers import TIMEOUT, all_nodes, attempts, outputs, run


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


def read_pid(fifo: Path) -> int:
    """The pid the task writes into `fifo`: opening a FIFO for reading blocks until the task opens it to write."""
    os.mkfifo(fifo)
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(fifo.read_text()), daemon=True)
    reader.start()
    reader.join(TIMEOUT)
    assert result, f"the task did not write its pid into {fifo} within {TIMEOUT} s"
    return int(result[0])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def ends_within(pid: int, seconds: float) -> bool:
    """Whether process `pid` (not our child) ends within `seconds`: a pidfd becomes readable when it ends."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([fd], [], [], seconds)
        return bool(readable) or not alive(pid)
    finally:
        os.close(fd)


def test_terminate_kills_the_process(client, tmp_path):
    pid_file = tmp_path / "sleeper.pid"
    execution = run(client, "features_flyte.sleeper", pid_file=str(pid_file))
    pid = read_pid(pid_file)
    assert alive(pid)
    execution.terminate("the test is done with it")
    assert execution.wait(timeout=TIMEOUT).phase == execution_pb2.EXECUTION_PHASE_ABORTED
    assert ends_within(pid, 15), f"process {pid} outlived the terminated execution"


def test_timeout_kills_the_process(client, tmp_path):
    pid_file = tmp_path / "slow.pid"
    execution = run(client, "features_flyte.slow_sleeper", pid_file=str(pid_file))
    pid = read_pid(pid_file)
    final = execution.wait(timeout=TIMEOUT)
    assert final.phase in (execution_pb2.EXECUTION_PHASE_TIMED_OUT, execution_pb2.EXECUTION_PHASE_FAILED)
    (node,) = all_nodes(client, execution)
    assert node.phase == execution_pb2.NODE_PHASE_TIMED_OUT
    assert ends_within(pid, 15), f"process {pid} outlived its timeout"


def test_recover_reuses_the_children_that_succeeded(client, tmp_path):
    marker = tmp_path / "marker"
    execution = run(client, "features_flyte.dyn_recover", n=3, marker=str(marker))
    failed(execution)
    first = {n.node_id: n for n in all_nodes(client, execution)}
    assert sorted(n.target.name for n in first.values() if n.phase == execution_pb2.NODE_PHASE_SUCCEEDED) == [
        "features_flyte.double"
    ] * 3
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
