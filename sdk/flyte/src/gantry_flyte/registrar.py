"""Registers a flytekit module's tasks, workflows and launch plans in Gantry.

flytekit's own serialization (what `pyflyte serialize` runs) is called in process with SerializationSettings for
the target project, domain and version, so the ids come out filled; each entity is translated (`translate`) and
registered. The same settings, serialized (`_F_SS_C`), ride in every task's plugin config: the worker hands them to
flytekit at run time, so that a dynamic task's children are named in the same project, domain and version.

Registering the same module at the same version again is a no-op: Gantry answers an identical registration with
`created = false`, and a different template under a taken id with ALREADY_EXISTS (reported, naming the entity).
"""

from __future__ import annotations

import dataclasses
import os
import sys

import grpc
from flytekit.configuration import ImageConfig, SerializationSettings
from flytekit.tools.repo import serialize_get_control_plane_entities, serialize_load_only

from gantry.v1 import admin_pb2, admin_pb2_grpc

from gantry_flyte import translate
from gantry_flyte.types import Unsupported

DEFAULT_IMAGE = "gantry-flyte:local"


class RegistrationError(RuntimeError):
    pass


@dataclasses.dataclass
class Registered:
    """What a registration did: entities newly created and those already registered identically."""

    created: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)


def settings(project: str, domain: str, version: str, image: str = DEFAULT_IMAGE) -> SerializationSettings:
    return SerializationSettings(
        image_config=ImageConfig.auto(img_name=image), project=project, domain=domain, version=version
    )


def serialize(modules: list[str], ss: SerializationSettings, source_root: str) -> list:
    """flytekit's control-plane entities (admin TaskSpec, WorkflowSpec, LaunchPlan protos) of `modules`."""
    root = os.path.abspath(source_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    serialize_load_only(modules, ss, root)
    return [entity.to_flyte_idl() for entity in serialize_get_control_plane_entities(ss, root)]


def translate_entities(entities: list, queue: str, ss: SerializationSettings) -> tuple[list, list, list]:
    """Gantry task templates, workflow templates and launch plans; `Unsupported` names what cannot be carried."""
    config = {translate.SERIALIZATION_CONTEXT: ss.serialized_context}
    tasks, workflows, plans = [], [], []
    for entity in entities:
        kind = type(entity).__name__
        if kind == "TaskSpec":
            tasks.append(translate.task_template(entity.template, queue, config))
        elif kind == "WorkflowSpec":
            workflows.extend(translate.workflow_template(sub) for sub in entity.sub_workflows)
            workflows.append(translate.workflow_template(entity.template))
        elif kind == "LaunchPlan":
            plans.append(translate.launch_plan(entity))
        else:
            raise Unsupported(f"entity {kind} is not supported by the Gantry bridge")
    _defaults_from_launch_plans(workflows, plans)
    return tasks, workflows, plans


def _defaults_from_launch_plans(workflows: list, plans: list) -> None:
    """A flytekit workflow's input defaults live only in its default launch plan (the one named like it); Gantry's
    workflow interface can hold them, so that running the workflow itself needs no more inputs than in Flyte."""
    by_name = {(p.id.name, p.target.name, p.id.version): p for p in plans}
    for workflow in workflows:
        plan = by_name.get((workflow.id.name, workflow.id.name, workflow.id.version))
        if plan is None:
            continue
        for variable in workflow.interface.inputs:
            if variable.name in plan.default_inputs.literals:
                variable.default.CopyFrom(plan.default_inputs.literals[variable.name])


def register(
    admin: admin_pb2_grpc.AdminServiceStub,
    modules: list[str],
    *,
    project: str,
    domain: str,
    version: str,
    queue: str = "flyte",
    image: str = DEFAULT_IMAGE,
    source_root: str = ".",
) -> Registered:
    ss = settings(project, domain, version, image)
    tasks, workflows, plans = translate_entities(serialize(modules, ss, source_root), queue, ss)
    result = Registered()

    def record(what: str, call, request) -> None:
        response = call(request)
        (result.created if response.created else result.unchanged).append(what)

    for task in tasks:
        _call(record, f"task {task.id.name}", admin.RegisterTask, admin_pb2.RegisterTaskRequest(task=task))
    # Workflows refer to sub-workflows and launch plans, launch plans to workflows: register in passes until
    # nothing more goes in, so that the module's order does not matter.
    pending = [
        ("workflow", w, admin.RegisterWorkflow, admin_pb2.RegisterWorkflowRequest(workflow=w)) for w in workflows
    ]
    pending += [
        ("launch plan", p, admin.RegisterLaunchPlan, admin_pb2.RegisterLaunchPlanRequest(launch_plan=p)) for p in plans
    ]
    while pending:
        failed = []
        for item in pending:
            kind, message, call, request = item
            try:
                _call(record, f"{kind} {message.id.name}", call, request)
            except _Retry as retry:
                failed.append((item, retry.error))
        if len(failed) == len(pending):
            (kind, message, *_), error = failed[0]
            raise RegistrationError(f"registering {kind} {message.id.name}: {error.details()}")
        pending = [item for item, _ in failed]
    return result


class _Retry(Exception):
    def __init__(self, error: grpc.RpcError):
        self.error = error


def _call(record, what: str, call, request) -> None:
    try:
        record(what, call, request)
    except grpc.RpcError as error:
        if error.code() in (
            grpc.StatusCode.NOT_FOUND,
            grpc.StatusCode.FAILED_PRECONDITION,
            grpc.StatusCode.INVALID_ARGUMENT,
        ):
            # Maybe a reference to what a later pass registers; re-raised by `register` when no pass helps.
            raise _Retry(error) from error
        raise RegistrationError(f"registering {what}: {error.code().name}: {error.details()}") from error
