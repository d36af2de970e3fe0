"""The worker's lifecycle: heartbeats keep a long attempt's lease, stop() drains running attempts and reports them,
an attempt still running after the shutdown grace is reported as a recoverable system error, and the server answers
for the results polls carry.

These tasks use queues of their own, so the session's worker never claims them; each test starts its own workers.
"""

from __future__ import annotations

import collections
import logging
import signal
import subprocess
import sys
import threading

import grpc

import gantry
from gantry import current_context, task
from gantry.v1 import admin_pb2, execution_pb2, identifier_pb2, task_pb2, worker_pb2, worker_pb2_grpc

from conftest import LEASE, REPO, LineWatcher

LEASE_SECONDS = float(LEASE.removesuffix("s"))
STARTED: dict[str, threading.Event] = collections.defaultdict(threading.Event)
RELEASE: dict[str, threading.Event] = collections.defaultdict(threading.Event)


@task(project="pytest", domain="dev", queue="pytest-long")
def outlives_its_lease(seconds: float) -> int:
    """Runs for longer than a lease: only heartbeats keep the attempt."""
    context = current_context()
    cancelled = context.cancelled.wait(seconds)
    return context.attempt if not cancelled else -1


@task(project="pytest", domain="dev", queue="pytest-gated")
def gated(x: int) -> int:
    """Starts, then waits until the test releases it."""
    execution_id = current_context().execution_id
    STARTED[execution_id].set()
    RELEASE[execution_id].wait(60)
    return x


@task(project="pytest", domain="dev", queue="pytest-ride")
def incremented(x: int) -> int:
    return x + 1


class CountingInterceptor(grpc.UnaryUnaryClientInterceptor):
    """Counts the worker's calls by method, and the results its polls carry."""

    def __init__(self):
        self.lock = threading.Lock()
        self.calls: collections.Counter = collections.Counter()
        self.carried = 0

    def intercept_unary_unary(self, continuation, client_call_details, request):
        with self.lock:
            self.calls[client_call_details.method.rsplit("/", 1)[-1]] += 1
            if client_call_details.method.endswith("/PollTasks"):
                self.carried += len(request.completions)
        return continuation(client_call_details, request)


def attempts_of(client, execution):
    (node,) = execution.nodes()
    request = admin_pb2.ListTaskAttemptsRequest(execution_id=execution.id, node_id=node.node_id)
    return list(client.admin.ListTaskAttempts(request).attempts)


def test_heartbeats_keep_an_attempt_running_longer_than_its_lease(server, client):
    worker = gantry.Worker(server, tasks=[outlives_its_lease], concurrency=1)
    worker.register()
    worker.start()
    try:
        execution = client.run(outlives_its_lease, seconds=LEASE_SECONDS * 1.5)
        assert execution.result(timeout=60) == 0
        (attempt,) = attempts_of(client, execution)
        assert attempt.phase == execution_pb2.ATTEMPT_PHASE_SUCCEEDED
        assert attempt.worker_id == worker.worker_id
    finally:
        worker.stop(wait=True, timeout=30)


def test_stop_drains_running_attempts_and_reports_them(server, client):
    worker = gantry.Worker(server, tasks=[gated], concurrency=2)
    worker.register()
    thread = worker.start()
    execution = client.run(gated, x=7)
    assert STARTED[execution.id].wait(30)
    worker.stop()
    # Stopping waits for the running attempt: the worker is still there until the task is released.
    assert thread.is_alive()
    RELEASE[execution.id].set()
    thread.join(30)
    assert not thread.is_alive()
    assert execution.result(timeout=30) == 7


def test_an_attempt_outliving_the_shutdown_grace_is_a_recoverable_system_error(server, client):
    impatient = gantry.Worker(server, tasks=[gated], concurrency=1, shutdown_grace=0.1)
    impatient.register()
    thread = impatient.start()
    execution = client.run(gated, x=9)
    assert STARTED[execution.id].wait(30)
    impatient.stop()
    thread.join(30)
    assert not thread.is_alive()
    # The server retries it under the system budget; a second worker runs it to the end.
    patient = gantry.Worker(server, tasks=[gated], concurrency=1)
    patient.start()
    try:
        RELEASE[execution.id].set()
        assert execution.result(timeout=60) == 9
        first, second = attempts_of(client, execution)
        assert first.phase == execution_pb2.ATTEMPT_PHASE_FAILED
        assert first.error.kind == execution_pb2.ERROR_KIND_SYSTEM
        assert first.error.recoverable
        assert first.error.code == "worker_shutdown"
        assert first.worker_id == impatient.worker_id
        assert second.phase == execution_pb2.ATTEMPT_PHASE_SUCCEEDED
        assert second.worker_id == patient.worker_id
    finally:
        patient.stop(wait=True, timeout=30)


def test_the_example_worker_process_stops_cleanly_on_sigterm(server, logs_dir):
    """`examples/seed.py worker` as a user runs it: ready once it prints its polling line, gone with exit code 0 after
    SIGTERM, having logged its orderly shutdown."""
    log_path = logs_dir / "seed-worker.log"
    process = subprocess.Popen(
        [sys.executable, str(REPO / "sdk" / "python" / "examples" / "seed.py"), "--address", server, "worker"],
        stdout=subprocess.PIPE,
        stderr=open(log_path, "w"),
        text=True,
    )
    try:
        LineWatcher(process.stdout, logs_dir / "seed-worker.stdout", r"polling queue").wait(
            "seed.py worker", process, log_path
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    log = log_path.read_text()
    assert "shutting down" in log and "stopped" in log


def test_the_server_records_the_results_polls_carry(server, client):
    """With a linger this long, results go with CompleteAttempts only when nothing else runs and a poll waits for
    work: the others ride polls, and the server answers for them (else the worker would stop carrying them)."""
    counter = CountingInterceptor()
    worker = gantry.Worker(server, tasks=[incremented], concurrency=2, completion_linger=600, poll_wait=1)
    worker._stub = worker_pb2_grpc.WorkerServiceStub(grpc.intercept_channel(worker._channel, counter))
    worker.register()
    worker.start()
    try:
        executions = [client.run(incremented, x=i) for i in range(12)]
        assert [execution.result(timeout=60) for execution in executions] == [i + 1 for i in range(12)]
        assert worker._polls_carry, "the server answered for every result a poll carried"
        with counter.lock:
            print(f"polls carried {counter.carried} results; calls {dict(counter.calls)}")
            assert counter.carried > 0, dict(counter.calls)
            assert counter.carried + counter.calls["CompleteAttempts"] >= 12, dict(counter.calls)
    finally:
        worker.stop(wait=True, timeout=30)
    for execution in executions:
        (attempt,) = attempts_of(client, execution)
        assert attempt.phase == execution_pb2.ATTEMPT_PHASE_SUCCEEDED
        assert attempt.worker_id == worker.worker_id


def test_a_heartbeat_that_arrives_after_the_result_is_no_lost_lease(server, client, caplog):
    # An attempt of a queue nobody serves, claimed and completed by hand: the server no longer leases it, so a
    # heartbeat for it says LOST. The worker whose result that was finds nothing wrong; one still running does.
    queue = "pytest-late-beat"
    template = task_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(project="pytest", domain="dev", name="late_beat", version="1"),
        metadata=task_pb2.TaskMetadata(queue=queue),
    )
    client.admin.RegisterTask(admin_pb2.RegisterTaskRequest(task=template))
    client.run("pytest/dev/late_beat@1")
    worker = gantry.Worker(server, queues=[queue], handler=lambda assignment: None)
    try:
        poll = worker_pb2.PollTasksRequest(worker_id=worker.worker_id, queues=[queue], max_attempts=1)
        poll.wait.FromSeconds(30)
        (assignment,) = worker._stub.PollTasks(poll).assignments
        done = worker_pb2.Completion(attempt=assignment.attempt, lease_id=assignment.lease_id)
        done.outputs.SetInParent()
        worker._stub.CompleteAttempts(worker_pb2.CompleteAttemptsRequest(worker_id=worker.worker_id, completions=[done]))
        finished = worker._track(assignment)
        finished.finished = True
        with caplog.at_level(logging.DEBUG, logger="gantry"):
            worker._beat_some([finished])
            assert finished.context.is_cancelled(), "no longer heartbeated"
            assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
            assert "ended before its heartbeat arrived" in caplog.text
            # The same answer for an attempt still running: its lease is gone, and it is stopped with a warning.
            running = worker._track(assignment)
            worker._beat_some([running])
            assert running.context.is_cancelled()
            assert "lost, stopping it" in caplog.text
        # Nothing the heartbeats said undid the recorded result.
        listed = client.admin.ListTaskAttempts(
            admin_pb2.ListTaskAttemptsRequest(
                execution_id=assignment.attempt.execution_id, node_id=assignment.attempt.node_id
            )
        )
        assert [a.phase for a in listed.attempts] == [execution_pb2.ATTEMPT_PHASE_SUCCEEDED]
    finally:
        worker.close()
