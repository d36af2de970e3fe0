"""Failures: user exceptions with their traceback, recoverable user errors retried, system errors, termination."""

from __future__ import annotations

import pytest

import tasks
from gantry import ExecutionFailed
from gantry.v1 import execution_pb2


def test_a_user_exception_is_a_user_error_with_its_traceback(client):
    execution = client.run(tasks.explode, message="kaboom")
    with pytest.raises(ExecutionFailed) as failed:
        execution.result(timeout=60)
    error = failed.value.error
    assert failed.value.phase == "FAILED"
    assert error.kind == execution_pb2.ERROR_KIND_USER
    assert not error.recoverable
    assert error.code == "exception"
    assert error.message.startswith("ValueError: exploded: kaboom")
    # The traceback, down to the helper that raised, in the message the client reads.
    assert "Traceback (most recent call last)" in error.message
    assert 'tasks.py", line' in error.message
    assert "in _fail_deeply" in error.message
    # The node carries the same error; one attempt, not retried.
    (node,) = execution.nodes()
    assert node.phase == execution_pb2.NODE_PHASE_FAILED
    assert "in _fail_deeply" in node.error.message
    assert node.attempts == 1


def test_a_recoverable_user_error_is_retried(client):
    execution = client.run(tasks.flaky, x=5)
    assert execution.result(timeout=60) == 5
    assert tasks.ATTEMPTS[execution.id] == 2
    (node,) = execution.nodes()
    attempts = client.admin.ListTaskAttempts(tasks_attempts_request(execution.id, node.node_id)).attempts
    assert [a.phase for a in attempts] == [execution_pb2.ATTEMPT_PHASE_FAILED, execution_pb2.ATTEMPT_PHASE_SUCCEEDED]
    assert attempts[0].error.kind == execution_pb2.ERROR_KIND_USER
    assert attempts[0].error.recoverable
    assert attempts[0].error.code == "flaky"


def test_a_system_error_keeps_its_kind(client):
    execution = client.run(tasks.infrastructure_down)
    with pytest.raises(ExecutionFailed) as failed:
        execution.result(timeout=60)
    assert failed.value.error.kind == execution_pb2.ERROR_KIND_SYSTEM
    assert failed.value.error.code == "db_down"
    assert "SystemTaskError: the database went away" in failed.value.error.message


def test_bad_inputs_are_refused_before_anything_runs(client):
    with pytest.raises(TypeError):
        client.run(tasks.add_one, x="not a number")


def test_termination_cancels_the_running_attempt(client):
    execution = client.run(tasks.wait_for_cancel, limit_seconds=60.0)
    assert tasks.STARTED[execution.id].wait(30), "the task never started"
    terminated = execution.terminate("the test is done")
    assert terminated.phase in (execution_pb2.EXECUTION_PHASE_ABORTING, execution_pb2.EXECUTION_PHASE_ABORTED)
    # The worker hears CANCEL on its next heartbeat (a third of the 3 s lease) and tells the task.
    assert tasks.CANCEL_SEEN[execution.id].wait(15), "the task was not told of the cancellation"
    final = execution.wait(timeout=30)
    assert final.phase == execution_pb2.EXECUTION_PHASE_ABORTED
    assert "the test is done" in final.error.message


def tasks_attempts_request(execution_id, node_id):
    from gantry.v1 import admin_pb2

    return admin_pb2.ListTaskAttemptsRequest(execution_id=execution_id, node_id=node_id)
