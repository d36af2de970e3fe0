"""The worker's cycle against a fake `WorkerService` on 127.0.0.1:0 (no database, no server binary): results ride the
next poll, which asks for the free threads and, with `prefetch` set and run times measured, more ahead; a server that
ignores results in polls gets them with CompleteAttempts; at shutdown, attempts claimed ahead run within the grace,
or are reported as `worker_shutdown` after it.

The fake hands out the assignments it is given, records every completion (by poll or by CompleteAttempts; one recorded
already is refused, as the server refuses it) and, as the server does, answers a poll that carries results at once
when it has no work; a poll that carries none waits for work until its `wait` runs out.
"""

from __future__ import annotations

import collections
import threading
import time
from concurrent import futures

import grpc
import pytest

import gantry
from gantry import task
from gantry.types import literal_map, python_values
from gantry.v1 import worker_pb2, worker_pb2_grpc

LIMIT = 30.0
RELEASE: dict[str, threading.Event] = collections.defaultdict(threading.Event)
STARTED: dict[str, threading.Event] = collections.defaultdict(threading.Event)


@task(project="pytest", domain="dev", queue="pytest-fake")
def double(x: int) -> int:
    return 2 * x


@task(project="pytest", domain="dev", queue="pytest-fake")
def held(name: str) -> str:
    """Runs until the test releases it."""
    STARTED[name].set()
    RELEASE[name].wait(LIMIT)
    return name


class FakeWorkerService(worker_pb2_grpc.WorkerServiceServicer):
    def __init__(self, takes_carried: bool = True):
        # Whether polls record the results they carry (a server from before they could is modelled by False).
        self.takes_carried = takes_carried
        self.condition = threading.Condition()
        self.work: collections.deque[worker_pb2.AttemptAssignment] = collections.deque()
        # Per poll: the attempts asked for and the results carried.
        self.polls: list[tuple[int, int]] = []
        self.complete_calls = 0
        # Node id -> (the completion recorded, "poll" or "complete").
        self.recorded: dict[str, tuple[worker_pb2.Completion, str]] = {}
        self.repeated = 0
        self.closed = False

    def assign(self, fn, node_id: str, **inputs) -> None:
        assignment = worker_pb2.AttemptAssignment(lease_id=f"lease-{node_id}", task=fn.template)
        assignment.attempt.execution_id = "e"
        assignment.attempt.node_id = node_id
        assignment.lease_expires_at.FromSeconds(int(time.time()) + 60)
        assignment.inputs.CopyFrom(literal_map(inputs, fn.interface.inputs))
        with self.condition:
            self.work.append(assignment)
            self.condition.notify_all()

    def wait_recorded(self, count: int, timeout: float = LIMIT) -> dict[str, tuple[worker_pb2.Completion, str]]:
        with self.condition:
            assert self.condition.wait_for(lambda: len(self.recorded) >= count, timeout), (
                f"{len(self.recorded)} of {count} results recorded; polls {self.polls}"
            )
            return dict(self.recorded)

    def _record(self, completions, how: str) -> list[worker_pb2.CompletionResult]:
        results = []
        for completion in completions:
            result = worker_pb2.CompletionResult(attempt=completion.attempt)
            result.status = worker_pb2.COMPLETION_STATUS_ACCEPTED
            if completion.attempt.node_id in self.recorded:
                # As the server: a result recorded already (sent again after a poll cut short by stop()) is refused.
                result.status = worker_pb2.COMPLETION_STATUS_REJECTED
                result.code = grpc.StatusCode.FAILED_PRECONDITION.value[0]
                result.message = "a result was already recorded"
                self.repeated += 1
            else:
                self.recorded[completion.attempt.node_id] = (completion, how)
            results.append(result)
        self.condition.notify_all()
        return results

    def PollTasks(self, request, context):
        assert request.max_attempts <= 1_000 and len(request.completions) <= 1_000, "the server's limits per poll"
        with self.condition:
            self.polls.append((request.max_attempts, len(request.completions)))
            carried = self.takes_carried and len(request.completions) > 0
            results = self._record(request.completions, "poll") if self.takes_carried else []
            end = time.monotonic() + request.wait.ToTimedelta().total_seconds()
            while True:
                if self.work:
                    count = min(request.max_attempts, len(self.work))
                    assignments = [self.work.popleft() for _ in range(count)]
                    return worker_pb2.PollTasksResponse(assignments=assignments, completion_results=results)
                left = end - time.monotonic()
                # As the server: a poll that carries results does not wait.
                if carried or self.closed or left <= 0:
                    return worker_pb2.PollTasksResponse(completion_results=results)
                self.condition.wait(left)

    def Heartbeat(self, request, context):
        response = worker_pb2.HeartbeatResponse()
        for leased in request.attempts:
            status = response.statuses.add(attempt=leased.attempt, state=worker_pb2.LEASE_STATE_EXTENDED)
            status.lease_expires_at.FromSeconds(int(time.time()) + 60)
        return response

    def CompleteAttempts(self, request, context):
        with self.condition:
            self.complete_calls += 1
            return worker_pb2.CompleteAttemptsResponse(results=self._record(request.completions, "complete"))


@pytest.fixture
def fake():
    made: list[tuple[grpc.Server, FakeWorkerService]] = []

    def start(takes_carried: bool = True) -> tuple[str, FakeWorkerService]:
        service = FakeWorkerService(takes_carried)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        worker_pb2_grpc.add_WorkerServiceServicer_to_server(service, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        made.append((server, service))
        return f"http://127.0.0.1:{port}", service

    yield start
    for server, service in made:
        with service.condition:
            service.closed = True
            service.condition.notify_all()
        server.stop(0)


def output(completion: worker_pb2.Completion, fn) -> object:
    assert completion.WhichOneof("result") == "outputs", completion
    return python_values(completion.outputs, fn.interface.outputs)["out"]


def test_results_ride_the_next_poll_which_claims_ahead_of_the_free_threads(fake):
    endpoint, service = fake()
    # One attempt stays running throughout, so that there is always something to batch with: with a linger this
    # long, only a poll can have carried the other results.
    service.assign(held, "held", name="ride")
    for i in range(20):
        service.assign(double, f"n{i}", x=i)
    worker = gantry.Worker(
        endpoint, tasks=[double, held], concurrency=2, prefetch=2, completion_linger=600, poll_wait=0.5
    )
    worker.start()
    try:
        recorded = service.wait_recorded(20)
        assert {node: output(completion, double) for node, (completion, _) in recorded.items()} == {
            f"n{i}": 2 * i for i in range(20)
        }
        with service.condition:
            assert service.complete_calls == 0, "every result rode a poll"
            assert {how for _, how in recorded.values()} == {"poll"}
            polls = list(service.polls)
        assert polls[0] == (2, 0), "the first poll, before any run was measured, asks for the 2 threads alone"
        assert any(asked > 2 for asked, _ in polls), f"later polls claim ahead: {polls}"
        assert sum(carried for _, carried in polls) == 20
        assert all(asked <= 4 for asked, _ in polls), f"never more than 4 held: {polls}"
        # Once nothing else runs, the last result is not held back by the linger.
        RELEASE["ride"].set()
        assert output(service.wait_recorded(21, timeout=10)["held"][0], held) == "ride"
    finally:
        RELEASE["ride"].set()
        worker.stop(wait=True, timeout=LIMIT)
        worker.close()
    assert worker.error is None


def test_a_server_that_ignores_results_in_polls_gets_them_with_complete_attempts(fake):
    endpoint, service = fake(takes_carried=False)
    for i in range(5):
        service.assign(double, f"n{i}", x=i)
    worker = gantry.Worker(endpoint, tasks=[double], concurrency=1, prefetch=0, poll_wait=0.5)
    worker.start()
    try:
        recorded = service.wait_recorded(5)
        assert {node: output(completion, double) for node, (completion, _) in recorded.items()} == {
            f"n{i}": 2 * i for i in range(5)
        }
        with service.condition:
            assert service.complete_calls >= 1
            polls = list(service.polls)
        assert polls[0][0] == 1, "without prefetch a poll asks for the free thread only"
        assert sum(1 for _, carried in polls if carried) <= 1, (
            f"after one unanswered poll, results stop riding polls: {polls}"
        )
    finally:
        worker.stop(wait=True, timeout=LIMIT)
        worker.close()
    assert worker.error is None


def warm_up(service: FakeWorkerService) -> None:
    """Runs a few short attempts, so that the worker has measured run times and round trips and claims ahead."""
    for i in range(4):
        service.assign(double, f"warm{i}", x=i)
    service.wait_recorded(4)


def test_attempts_claimed_ahead_run_within_the_shutdown_grace(fake):
    endpoint, service = fake()
    worker = gantry.Worker(endpoint, tasks=[double, held], concurrency=1, prefetch=2, poll_wait=0.5)
    thread = worker.start()
    try:
        warm_up(service)
        service.assign(held, "first", name="drain")
        service.assign(double, "second", x=1)
        assert STARTED["drain"].wait(LIMIT)
        with service.condition:
            assert service.condition.wait_for(lambda: not service.work, LIMIT), "both claimed, one of them ahead"
        worker.stop()
        RELEASE["drain"].set()
        thread.join(LIMIT)
        assert not thread.is_alive()
    finally:
        RELEASE["drain"].set()
        worker.stop(wait=True, timeout=LIMIT)
        worker.close()
    recorded = service.wait_recorded(6)
    assert output(recorded["first"][0], held) == "drain"
    assert output(recorded["second"][0], double) == 2


def test_attempts_claimed_ahead_are_reported_as_worker_shutdown_after_the_grace(fake):
    endpoint, service = fake()
    worker = gantry.Worker(endpoint, tasks=[double, held], concurrency=1, prefetch=1, poll_wait=0.5, shutdown_grace=0.2)
    thread = worker.start()
    try:
        warm_up(service)
        service.assign(held, "stuck", name="grace")
        service.assign(double, "waiting", x=1)
        assert STARTED["grace"].wait(LIMIT)
        with service.condition:
            assert service.condition.wait_for(lambda: not service.work, LIMIT)
        worker.stop()
        thread.join(LIMIT)
        assert not thread.is_alive()
        recorded = service.wait_recorded(6)
        for node, what in (("stuck", "finished"), ("waiting", "started")):
            completion = recorded[node][0]
            assert completion.WhichOneof("result") == "error", completion
            assert completion.error.code == "worker_shutdown"
            assert completion.error.recoverable
            assert what in completion.error.message
    finally:
        RELEASE["grace"].set()
        worker.close()


def test_prefetch_is_deep_for_short_tasks_and_shallow_for_long_ones():
    from gantry._prefetch import ahead

    assert ahead(8, 32, 0, 0.005) == 0, "unmeasured: none"
    assert ahead(8, 32, 0.00001, 0.005) == 32, "a no-op task: as deep as allowed"
    assert ahead(8, 32, 0.0025, 0.005) == 16, "a task half a round trip long: two per thread"
    assert ahead(8, 32, 1.0, 0.005) == 1, "a 1 s task: one ahead"
    assert ahead(8, 0, 0.00001, 0.005) == 0, "prefetching off"


def test_a_worker_of_short_tasks_claims_deeper_ahead_once_it_has_measured_them(fake):
    endpoint, service = fake()
    for i in range(60):
        service.assign(double, f"n{i}", x=i)
    worker = gantry.Worker(endpoint, tasks=[double], concurrency=2, prefetch=8, poll_wait=0.5)
    worker.start()
    try:
        service.wait_recorded(60)
        with service.condition:
            asked = [asked for asked, _ in service.polls]
        assert asked[0] == 2, f"unmeasured: the 2 threads alone: {asked}"
        assert max(asked) == 10, f"short tasks: as deep as the maximum: {asked}"
    finally:
        worker.stop(wait=True, timeout=LIMIT)
        worker.close()
    assert worker.error is None
