"""The plugin payload of a task template in the Python SDK: `@task(plugin=...)` registers it, GetTask returns it byte
for byte, a task reads exactly it from `current_context().plugin`, and a template embedded in a dynamic spec (and
registered nowhere) delivers its own payload to the children; one that differs from the template registered under its
id runs, scoped to its spec, and leaves the registered one as it was.

These tasks use a queue of their own, served by this module's worker.
"""

from __future__ import annotations

import re

import grpc
import pytest

import gantry
from conftest import running
from gantry import TaskPlugin, current_context, dynamic_task, task
from gantry.task import format_identifier
from gantry.v1 import admin_pb2, task_pb2

QUEUE = "pytest-plugin"
# Not UTF-8, with zeros: the payload is bytes, never text.
REGISTERED = TaskPlugin("python-task", b"\x0a\x00\xff\xfe\x80x", {"image": "cr.flyte.org/app:1", "empty": ""})
EMBEDDED = TaskPlugin("container_array", b"\x00\x00\x01\xc3\x28", {"k": "v"})


def describe(plugin: TaskPlugin | None) -> str:
    if plugin is None:
        return "none"
    return f"{plugin.type}|{plugin.custom.hex()}|{sorted(plugin.config.items())}"


@task(project="pytest", domain="dev", queue=QUEUE, plugin=REGISTERED)
def plugin_echo(x: int) -> str:
    return f"{describe(current_context().plugin)}|{x}"


@task(project="pytest", domain="dev", queue=QUEUE, plugin=EMBEDDED)
def plugin_embedded(i: int) -> str:
    return f"{describe(current_context().plugin)}|{i}"


@dynamic_task(project="pytest", domain="dev", queue=QUEUE)
def plugin_fan(n: int) -> list[str]:
    described = []
    for i in range(n):
        node = plugin_embedded(i=i)
        yield node
        described.append(node.outputs.out)
    return described


@task(project="pytest", domain="dev", queue=QUEUE, plugin=EMBEDDED)
def plugin_shadowed(i: int) -> str:
    return f"{describe(current_context().plugin)}|{i}"


@dynamic_task(project="pytest", domain="dev", queue=QUEUE)
def plugin_shadow_fan(n: int) -> list[str]:
    described = []
    for i in range(n):
        node = plugin_shadowed(i=i)
        yield node
        described.append(node.outputs.out)
    return described


@pytest.fixture(scope="module")
def plugin_worker(server, client):
    # `plugin_embedded` is served but never registered: it exists only inside `plugin_fan`'s specs.
    client.register(plugin_echo, plugin_fan)
    tasks = [plugin_echo, plugin_fan, plugin_embedded, plugin_shadowed, plugin_shadow_fan]
    worker = gantry.Worker(server, tasks=tasks, queues=[QUEUE], concurrency=4)
    with running(worker):
        yield worker


def test_a_registered_payload_reads_back_byte_for_byte(client, plugin_worker):
    got = client.admin.GetTask(admin_pb2.GetTaskRequest(id=plugin_echo.id)).task
    assert got.HasField("plugin")
    assert got.plugin.SerializeToString(deterministic=True) == REGISTERED.to_proto().SerializeToString(
        deterministic=True
    )
    assert TaskPlugin.of_template(got) == REGISTERED


def test_the_task_reads_its_payload_from_its_context(client, plugin_worker):
    assert client.run(plugin_echo, x=7).result(timeout=60) == f"{describe(REGISTERED)}|7"


def test_a_spec_embedded_template_delivers_its_payload_to_the_children(client, plugin_worker):
    result = client.run(plugin_fan, n=3).result(timeout=60)
    assert result == [f"{describe(EMBEDDED)}|{i}" for i in range(3)]


def test_an_embedded_template_that_differs_from_the_registered_one_runs_scoped_to_its_spec(client, plugin_worker):
    # Registered under `plugin_shadowed`'s id with another payload; its specs embed the template with EMBEDDED.
    registered = task_pb2.TaskTemplate()
    registered.CopyFrom(plugin_shadowed.template)
    registered.plugin.CopyFrom(REGISTERED.to_proto())
    client.admin.RegisterTask(admin_pb2.RegisterTaskRequest(task=registered))
    client.register(plugin_shadow_fan)

    run = client.run(plugin_shadow_fan, n=2)
    assert run.result(timeout=60) == [f"{describe(EMBEDDED)}|{i}" for i in range(2)]
    children = client.list_nodes(run.id, parent="n0")
    targets = {format_identifier(node.target) for node in children}
    assert len(children) == 2 and len(targets) == 1, targets
    (target,) = targets
    assert re.fullmatch(re.escape(format_identifier(plugin_shadowed.id)) + "~spec-[0-9a-f]{16}", target), target
    got = client.admin.GetTask(admin_pb2.GetTaskRequest(id=plugin_shadowed.id)).task
    assert TaskPlugin.of_template(got) == REGISTERED


def test_a_scoped_version_cannot_be_registered(client):
    template = task_pb2.TaskTemplate()
    template.CopyFrom(plugin_shadowed.template)
    template.id.version = "1~spec-0123456789abcdef"
    with pytest.raises(grpc.RpcError) as refused:
        client.admin.RegisterTask(admin_pb2.RegisterTaskRequest(task=template))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "scoped to a dynamic spec" in refused.value.details()


def test_a_payload_needs_a_type_and_bytes():
    with pytest.raises(ValueError, match="needs a type"):
        TaskPlugin("", b"")
    with pytest.raises(TypeError, match="custom must be bytes"):
        TaskPlugin("python-task", "text")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="plugin must be a gantry.TaskPlugin"):
        task(plugin={"type": "python-task"})(lambda: None)
