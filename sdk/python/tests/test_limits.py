"""Limits (worker.proto): a runaway generator — the seed with tasks_count = 2**63 - 1 — fails its node at once with a
non-recoverable `spec_too_large` naming the server's limit, on the Python worker and on the Rust example worker, with
one attempt and no retry, and both workers go on serving; a generator stops at the yield past the limit; a worker
wider than one poll's limit still polls."""

from __future__ import annotations

import time

import pytest

import gantry
import seed
from conftest import SPEC_NODES
from gantry.dynamic import build_spec
from gantry.limits import SpecLimits, SpecTooLarge
from gantry.v1 import admin_pb2, execution_pb2, worker_pb2

RUNAWAY = 2**63 - 1
# Generous for a debug server on a busy machine; the point is that nothing like 2**63 nodes is attempted.
FAILS_WITHIN = 60.0

rust_generate_others = gantry.reference_task(
    "demo/dev/generate_others@1", inputs={"tasks_count": int}, outputs={"out": list[int]}
)
rust_other_task = gantry.reference_task(
    "demo/dev/other_task@1", inputs={"index": int}, outputs={"other_task_out": int}
)


def assert_fails_at_once_with_spec_too_large(client, target) -> None:
    started = time.monotonic()
    execution = client.run(target, tasks_count=RUNAWAY)
    final = execution.wait(timeout=FAILS_WITHIN * 2)
    elapsed = time.monotonic() - started
    print(f"{target.id.name} with tasks_count = 2**63 - 1 failed in {elapsed:.2f}s")
    assert final.phase == execution_pb2.EXECUTION_PHASE_FAILED, final
    error = final.error
    assert (error.kind, error.code, error.recoverable) == (execution_pb2.ERROR_KIND_USER, "spec_too_large", False)
    assert f"limit of {SPEC_NODES} nodes" in error.message, error.message
    (top,) = execution.nodes()
    assert top.phase == execution_pb2.NODE_PHASE_FAILED
    request = admin_pb2.ListTaskAttemptsRequest(execution_id=execution.id, node_id=top.node_id)
    attempts = client.admin.ListTaskAttempts(request).attempts
    assert len(attempts) == 1, "a non-recoverable error is not retried"
    assert execution.nodes(parent=top.node_id) == [], "no child was created"
    assert elapsed < FAILS_WITHIN


def test_a_runaway_python_generator_fails_at_once_and_the_worker_goes_on(client, py_worker):
    assert_fails_at_once_with_spec_too_large(client, seed.generate_others)
    assert py_worker.error is None
    # An input no other test runs: the generator really runs again rather than hitting the cache.
    assert client.run(seed.generate_others, tasks_count=11).result(timeout=60) == [2 * i for i in range(11)]


def test_a_runaway_rust_generator_fails_at_once_and_the_worker_goes_on(client, rust_worker):
    assert_fails_at_once_with_spec_too_large(client, rust_generate_others)
    assert rust_worker.poll() is None, "the Rust example worker is still running"
    assert client.run(rust_other_task, index=21).result(timeout=60) == 42
    assert client.run(rust_generate_others, tasks_count=13).result(timeout=60) == [2 * i for i in range(13)]


@gantry.task(project="pytest", domain="dev", queue="pytest-wide")
def wide_echo(x: int) -> int:
    return x


def test_a_worker_wider_than_a_poll_still_polls(client, server):
    # 1,001 free slots, one more than a poll may ask for: the worker asks for 1,000.
    worker = gantry.Worker(server, tasks=[wide_echo], concurrency=1_001, shutdown_grace=10)
    worker.register()
    worker.start()
    try:
        assert client.run(wide_echo, x=5).result(timeout=60) == 5
        assert worker.error is None
    finally:
        worker.stop(wait=True, timeout=30)
        worker.close()


# --- offline: the builder -----------------------------------------------------------------------------------------

seen_at_yield: list[BaseException] = []


@gantry.dynamic_task(project="pytest", domain="dev")
def records_the_error(n: int) -> list[int]:
    res = []
    for i in range(n):
        try:
            node = yield seed.other_task(index=i)
        except SpecTooLarge as error:
            seen_at_yield.append(error)
            raise
        res.append(node.outputs.other_task_out)
    return res


@gantry.dynamic_task(project="pytest", domain="dev")
def ignores_the_error(n: int) -> list[int]:
    for i in range(n):
        try:
            yield seed.other_task(index=i)
        except SpecTooLarge:
            pass
    return []


def test_the_yield_past_the_node_limit_raises_in_the_generator():
    seen_at_yield.clear()
    with pytest.raises(SpecTooLarge) as raised:
        build_spec(records_the_error, {"n": RUNAWAY}, SpecLimits(max_nodes=3))
    assert raised.value.code == "spec_too_large" and not raised.value.recoverable
    assert str(raised.value) == "the dynamic spec would have 4 nodes, above the server's limit of 3 nodes"
    assert seen_at_yield == [raised.value], "the generator saw it where it yielded"
    # One that swallows the error and yields on is stopped all the same.
    with pytest.raises(SpecTooLarge):
        build_spec(ignores_the_error, {"n": RUNAWAY}, SpecLimits(max_nodes=3))
    assert len(build_spec(records_the_error, {"n": 3}, SpecLimits(max_nodes=3)).nodes) == 3


def test_the_byte_limit_counts_as_the_server_does():
    spec = build_spec(records_the_error, {"n": 50})
    counted = worker_pb2.Completion(dynamic_spec=spec).ByteSize()
    assert len(build_spec(records_the_error, {"n": 50}, SpecLimits(max_bytes=counted)).nodes) == 50
    with pytest.raises(SpecTooLarge) as raised:
        build_spec(records_the_error, {"n": 50}, SpecLimits(max_bytes=counted - 1))
    assert f"limit of {counted - 1} bytes" in str(raised.value)
    with pytest.raises(SpecTooLarge):
        build_spec(records_the_error, {"n": RUNAWAY}, SpecLimits(max_nodes=10**6, max_bytes=2_000))


@gantry.task(project="pytest", domain="dev", queue="pytest-small-messages")
def sized(n: int) -> str:
    return "x" * n


def test_results_are_sent_within_the_message_limit(client, server):
    # A worker whose messages are small: results are batched by bytes, and one too large to send at all is reported
    # as an error in its place instead of being retried forever.
    worker = gantry.Worker(server, tasks=[sized], concurrency=8, max_message_bytes=256 * 1024, shutdown_grace=10)
    worker.register()
    worker.start()
    try:
        executions = [client.run(sized, n=100_000) for _ in range(6)]
        assert all(execution.result(timeout=60) == "x" * 100_000 for execution in executions)
        final = client.run(sized, n=300_000).wait(timeout=60)
        assert final.phase == execution_pb2.EXECUTION_PHASE_FAILED
        assert (final.error.code, final.error.recoverable) == ("result_too_large", False), final.error
        assert worker.error is None
    finally:
        worker.stop(wait=True, timeout=30)
        worker.close()


@gantry.task(project="pytest", domain="dev", queue="pytest-small-messages-spec")
def doubled(i: int) -> int:
    return i * 2


@gantry.dynamic_task(project="pytest", domain="dev", queue="pytest-small-messages-spec")
def wide(n: int) -> list[int]:
    res = []
    for i in range(n):
        node = doubled(i=i)
        yield node
        res.append(node.outputs.out)
    return res


def test_a_spec_larger_than_the_workers_messages_is_sent_whole(client, server):
    # A spec goes alone in a CompleteAttempts call, which the server takes up to its spec limit (256 MiB by default),
    # whatever the message limits: a worker whose messages are 64 KiB sends a 9,000-node spec of about 590 KB.
    n = 9_000
    worker = gantry.Worker(
        server, tasks=[doubled, wide], concurrency=8, max_message_bytes=64 * 1024, shutdown_grace=10
    )
    worker.register()
    worker.start()
    try:
        spec = build_spec(wide, {"n": n})
        size = worker_pb2.Completion(dynamic_spec=spec).ByteSize()
        assert size > 8 * 64 * 1024, size
        execution = client.run(wide, n=n)
        assert execution.result(timeout=120) == [2 * i for i in range(n)]
        assert worker.error is None
    finally:
        worker.stop(wait=True, timeout=30)
        worker.close()
