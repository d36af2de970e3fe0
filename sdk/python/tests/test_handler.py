"""The generic handler: a worker whose one function serves whole assignments of a queue (the way the flytekit bridge
runs Flyte tasks from their plugin payload) gets the template, its payload, the inputs as literals and the context,
and completes the attempt with the outputs, a dynamic spec or an error it returns; an exception it raises becomes an
error of the right kind; a template its `accepts` refuses is not run. Literal hashes reach it and leave it intact.

Templates are registered as protos (no Python function stands behind them), on a queue of their own.
"""

from __future__ import annotations

import pytest

import gantry
from conftest import running
from gantry import Assignment, ExecutionFailed, SystemTaskError, TaskPlugin, UserError
from gantry.types import literal_type
from gantry.v1 import (
    admin_pb2,
    dynamic_pb2,
    execution_pb2,
    identifier_pb2,
    interface_pb2,
    literals_pb2,
    task_pb2,
    types_pb2,
    workflow_pb2,
)

QUEUE = "pytest-generic"
SEEN: dict[str, Assignment] = {}


def template(name: str, plugin: TaskPlugin | None, output: type = str) -> task_pb2.TaskTemplate:
    """`name(x: int) -> out`, on the handler's queue, never retried (so that a failure is final at once)."""
    message = task_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(project="pytest", domain="dev", name=name, version="1"),
        interface=interface_pb2.TypedInterface(
            inputs=[interface_pb2.Variable(name="x", type=literal_type(int))],
            outputs=[interface_pb2.Variable(name="out", type=literal_type(output))],
        ),
        metadata=task_pb2.TaskMetadata(queue=QUEUE, retries=task_pb2.RetryPolicy(user_retries=0, system_retries=0)),
    )
    if plugin is not None:
        message.plugin.CopyFrom(plugin.to_proto())
    return message


ECHO = TaskPlugin("echo", b"\x00\xffbytes", {"mode": "describe"})
CHILD = TaskPlugin("echo", b"\x01child", {"mode": "child"})
TEMPLATES = {
    "gen_echo": template("gen_echo", ECHO),
    "gen_fan": template("gen_fan", TaskPlugin("fan"), output=list[str]),
    "gen_user_error": template("gen_user_error", TaskPlugin("user-error")),
    "gen_exception": template("gen_exception", TaskPlugin("exception")),
    "gen_system_error": template("gen_system_error", TaskPlugin("system-error")),
    "gen_returned_error": template("gen_returned_error", TaskPlugin("returned-error")),
    "gen_bad_result": template("gen_bad_result", TaskPlugin("bad-result")),
    "gen_refused": template("gen_refused", None),
}
CHILD_TEMPLATE = template("gen_child", CHILD)
HASHING = template("gen_hash", TaskPlugin("hash"), output=int)
HASHING.metadata.cache = True
HASHING.metadata.cache_version = "1"
TEMPLATES["gen_hash"] = HASHING
HASH_RUNS: list[int] = []


def tagged_int(tag: str) -> types_pb2.LiteralType:
    return types_pb2.LiteralType(simple=types_pb2.SIMPLE_TYPE_INTEGER, tag=tag)


# `union<int ("int") | int ("count")>`: two variants of one type, told apart by their tags (flytekit names each).
COUNTED = types_pb2.LiteralType(union_type=types_pb2.UnionType(variants=[tagged_int("int"), tagged_int("count")]))
TAGGING = template("gen_tag", TaskPlugin("tag"))
TAGGING.interface.inputs[0].type.CopyFrom(COUNTED)
TAGGING.interface.outputs[0].type.CopyFrom(COUNTED)
TEMPLATES["gen_tag"] = TAGGING


def string_outputs(text: str) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(literals={"out": literals_pb2.Literal(string_value=text)})


def describe(assignment: Assignment) -> str:
    plugin = assignment.plugin
    assert plugin is not None
    return f"{assignment.task_id.name}|{plugin.type}|{plugin.custom.hex()}|{sorted(plugin.config.items())}"


def fan_spec(n: int) -> dynamic_pb2.DynamicJobSpec:
    """`n` children running the embedded (never registered) `gen_child`, and the list of their outputs."""
    nodes = [
        workflow_pb2.Node(
            id=f"c{i}",
            task=CHILD_TEMPLATE.id,
            inputs=[
                workflow_pb2.Binding(
                    var="x", binding=workflow_pb2.BindingData(literal=literals_pb2.Literal(integer=i))
                )
            ],
        )
        for i in range(n)
    ]
    promises = [workflow_pb2.BindingData(promise=workflow_pb2.Promise(node_id=f"c{i}", output="out")) for i in range(n)]
    outputs = workflow_pb2.Binding(
        var="out", binding=workflow_pb2.BindingData(collection=workflow_pb2.BindingCollection(bindings=promises))
    )
    return dynamic_pb2.DynamicJobSpec(nodes=nodes, outputs=[outputs], tasks=[CHILD_TEMPLATE])


def handle(assignment: Assignment):
    """Dispatches on the payload's type, as a bridge would."""
    SEEN[f"{assignment.context.execution_id}/{assignment.context.node_id}"] = assignment
    x = assignment.inputs.literals["x"].integer
    kind = assignment.plugin.type if assignment.plugin else None
    if kind == "echo":
        return string_outputs(f"{describe(assignment)}|{x}")
    if kind == "fan":
        return fan_spec(x)
    if kind == "tag":
        return literals_pb2.LiteralMap(literals={"out": assignment.inputs.literals["x"]})
    if kind == "hash":
        frame = assignment.inputs.literals["x"]
        HASH_RUNS.append(frame.integer)
        rows = literals_pb2.Literal(integer=2 * frame.integer, hash=f"rows-of-{frame.hash or 'none'}")
        return literals_pb2.LiteralMap(literals={"out": rows})
    if kind == "user-error":
        raise UserError("the bridge refused the task", code="bridge_refused")
    if kind == "exception":
        raise KeyError("no such flyte type")
    if kind == "system-error":
        raise SystemTaskError("the container runtime is gone", recoverable=False, code="runtime_gone")
    if kind == "returned-error":
        return execution_pb2.ExecutionError(
            kind=execution_pb2.ERROR_KIND_USER, recoverable=False, code="error_pb", message="from error.pb"
        )
    if kind == "bad-result":
        return {"out": "not a LiteralMap"}
    raise AssertionError(f"the handler got {assignment.task_id.name}, which accepts refuses")


def accepts(template: task_pb2.TaskTemplate) -> bool:
    return template.HasField("plugin")


@pytest.fixture(scope="module")
def generic_worker(server, client):
    for message in TEMPLATES.values():
        client.admin.RegisterTask(admin_pb2.RegisterTaskRequest(task=message))
    with running(gantry.Worker(server, queues=[QUEUE], handler=handle, accepts=accepts, concurrency=4)) as worker:
        yield worker


def run(client, name: str, x: int = 1) -> gantry.Execution:
    return client.run(f"pytest/dev/{name}@1", {"x": x})


def failure(client, name: str) -> execution_pb2.ExecutionError:
    execution = run(client, name)
    with pytest.raises(ExecutionFailed) as failed:
        execution.result(timeout=60)
    (node,) = execution.nodes()
    assert node.attempts == 1, "not retried"
    return failed.value.error


def test_the_handler_gets_the_whole_assignment(client, generic_worker):
    execution = run(client, "gen_echo", x=5)
    assert execution.outputs(timeout=60) == {"out": f"gen_echo|echo|{ECHO.custom.hex()}|[('mode', 'describe')]|5"}
    (node,) = execution.nodes()
    seen = SEEN[f"{execution.id}/{node.node_id}"]
    assert seen.plugin == ECHO
    assert seen.task.plugin.custom == ECHO.custom
    assert seen.task.metadata.queue == QUEUE
    assert seen.context.worker_id == generic_worker.worker_id
    assert seen.context.task is None, "no @task function stands behind it"
    assert not seen.context.is_cancelled()


def test_a_returned_spec_runs_children_with_their_embedded_payload(client, generic_worker):
    execution = run(client, "gen_fan", x=3)
    expected = [f"gen_child|echo|{CHILD.custom.hex()}|[('mode', 'child')]|{i}" for i in range(3)]
    assert execution.outputs(timeout=60) == {"out": expected}


def test_a_user_error_keeps_its_code(client, generic_worker):
    error = failure(client, "gen_user_error")
    assert error.kind == execution_pb2.ERROR_KIND_USER
    assert not error.recoverable
    assert error.code == "bridge_refused"
    assert "UserError: the bridge refused the task" in error.message


def test_any_other_exception_is_a_user_error_with_its_traceback(client, generic_worker):
    error = failure(client, "gen_exception")
    assert error.kind == execution_pb2.ERROR_KIND_USER
    assert not error.recoverable
    assert error.code == "exception"
    assert error.message.startswith("KeyError: 'no such flyte type'")
    assert "in handle" in error.message


def test_a_system_error_keeps_its_kind(client, generic_worker):
    error = failure(client, "gen_system_error")
    assert error.kind == execution_pb2.ERROR_KIND_SYSTEM
    assert error.code == "runtime_gone"


def test_a_returned_error_is_reported_as_given(client, generic_worker):
    error = failure(client, "gen_returned_error")
    assert (error.kind, error.recoverable, error.code, error.message) == (
        execution_pb2.ERROR_KIND_USER,
        False,
        "error_pb",
        "from error.pb",
    )


def test_a_result_of_another_type_is_a_bad_output(client, generic_worker):
    error = failure(client, "gen_bad_result")
    assert error.kind == execution_pb2.ERROR_KIND_USER
    assert error.code == "bad_output"
    assert "not dict" in error.message


def test_a_template_accepts_refuses_is_not_run(client, generic_worker):
    error = failure(client, "gen_refused")
    assert error.kind == execution_pb2.ERROR_KIND_SYSTEM
    assert error.code == "unknown_task"
    assert all(seen.task_id.name != "gen_refused" for seen in SEEN.values()), "the handler never ran it"


def test_a_worker_needs_tasks_or_a_handler():
    with pytest.raises(ValueError, match="tasks or a handler"):
        gantry.Worker("http://127.0.0.1:1", queues=["q"])
    with pytest.raises(ValueError, match="give the handler too"):
        gantry.Worker("http://127.0.0.1:1", queues=["q"], accepts=accepts)


def test_hashes_travel_with_their_values_and_key_the_cache(client, generic_worker):
    # `gen_hash` is cached: another frame under the same hash is a hit (Flyte's HashMethod), another hash a miss.
    def frame_rows(frame) -> tuple[int, str]:
        execution = client.run("pytest/dev/gen_hash@1", {"x": frame})
        execution.wait(timeout=60)
        out = execution.data().outputs.literals["out"]
        return out.integer, out.hash

    assert frame_rows(gantry.hashed(3, "frame-a")) == (6, "rows-of-frame-a")
    assert HASH_RUNS == [3]
    assert frame_rows(gantry.hashed(4, "frame-a")) == (6, "rows-of-frame-a"), "the first run's outputs"
    assert HASH_RUNS == [3], "a cache hit runs nothing"
    assert frame_rows(3) == (6, "rows-of-none")
    assert HASH_RUNS == [3, 3]
    with pytest.raises(ValueError, match="must not be empty"):
        gantry.hashed(3, "")


def test_a_tagged_union_stamp_reaches_the_worker_and_comes_back(client, generic_worker):
    registered = client.admin.GetTask(admin_pb2.GetTaskRequest(id=TAGGING.id)).task
    assert registered.interface.inputs[0].type == COUNTED, "tags read back from the registry"
    stamped = literals_pb2.Literal(union=literals_pb2.UnionValue(value=literals_pb2.Literal(integer=3)))
    stamped.union.variant.CopyFrom(tagged_int("count"))
    execution = client.run("pytest/dev/gen_tag@1", {"x": stamped})
    execution.wait(timeout=60)
    (node,) = execution.nodes()
    received = SEEN[f"{execution.id}/{node.node_id}"].inputs.literals["x"]
    assert received.union.variant.tag == "count", "not the first variant of that type"
    assert execution.data().outputs.literals["out"].union.variant.tag == "count"
