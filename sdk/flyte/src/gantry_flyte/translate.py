"""flyteidl -> gantry.v1 for everything but literals (see `types`): interfaces, task and workflow templates, launch
plans, nodes, bindings, dynamic job specs (futures.pb) and error documents (error.pb). Pure functions.

A Gantry task template made here carries the original flyte TaskTemplate, serialized, as its plugin payload
(`TaskPlugin(type=<flyte type>, custom=<TaskTemplate bytes>, config=...)`): the worker rebuilds flytekit's literals
from that template's interface, which Gantry's own types cannot fully describe.

What Gantry cannot carry raises `Unsupported` naming the construct and the node or task: a map over anything but a
task, output aliases, eager tasks, failure nodes, types with no Gantry equivalent, signal ids Gantry cannot hold,
schedules with a cron offset, an AWS-style `cron_expression` or a cron expression of other than five fields.
"""

from __future__ import annotations

import re

from flyteidl.admin import launch_plan_pb2 as flaunch
from flyteidl.admin import schedule_pb2 as fs
from flyteidl.core import condition_pb2 as fc
from flyteidl.core import dynamic_job_pb2 as fd
from flyteidl.core import errors_pb2 as fe
from flyteidl.core import execution_pb2 as fx
from flyteidl.core import identifier_pb2 as fi
from flyteidl.core import interface_pb2 as ff
from flyteidl.core import literals_pb2 as fl
from flyteidl.core import tasks_pb2 as ftk
from flyteidl.core import types_pb2 as ft
from flyteidl.core import workflow_pb2 as fw
from google.protobuf import duration_pb2

from gantry.plugin import TaskPlugin
from gantry.v1 import dynamic_pb2 as gd
from gantry.v1 import execution_pb2 as gx
from gantry.v1 import identifier_pb2 as gi
from gantry.v1 import interface_pb2 as gf
from gantry.v1 import launch_plan_pb2 as glp
from gantry.v1 import literals_pb2 as gl
from gantry.v1 import task_pb2 as gtk
from gantry.v1 import workflow_pb2 as gw

from gantry_flyte.types import (
    Unsupported,
    natural_key,
    to_gantry_literal,
    to_gantry_literal_map,
    to_gantry_type,
)

# Flyte's id for "the enclosing workflow's inputs"; Gantry spells it as an empty node id.
START_NODE = "start-node"
NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
# Gantry's default system budget (absent RetryPolicy); an explicit policy must restate it or it means 0.
SYSTEM_RETRIES = 3
MAP_EXECUTE = "pyflyte-map-execute"
# The plugin config key naming the inputs of a map task that are lists (the rest are partial-bound).
MAPPED_INPUTS = "gantry-flyte/mapped-inputs"
# The plugin config key holding flytekit's serialized SerializationSettings (`_F_SS_C`) for the run.
SERIALIZATION_CONTEXT = "gantry-flyte/serialization-context"


def identifier(flyte_id: fi.Identifier) -> gi.Identifier:
    return gi.Identifier(project=flyte_id.project, domain=flyte_id.domain, name=flyte_id.name, version=flyte_id.version)


def variables(variable_map: ff.VariableMap, where: str, element: set[str] = frozenset()) -> list[gf.Variable]:
    """Flyte's variable map as Gantry's ordered list; names in `element` become their list's element type."""
    result = []
    for name in sorted(variable_map.variables, key=natural_key):
        flyte_type = variable_map.variables[name].type
        if name in element:
            if flyte_type.WhichOneof("type") != "collection_type":
                raise Unsupported(f"{where}: mapped variable {name!r} is not a list")
            flyte_type = flyte_type.collection_type
        result.append(gf.Variable(name=name, type=to_gantry_type(flyte_type, f"{where}: variable {name!r}")))
    return result


def interface(flyte_interface: ff.TypedInterface, where: str) -> gf.TypedInterface:
    return gf.TypedInterface(
        inputs=variables(flyte_interface.inputs, f"{where} inputs"),
        outputs=variables(flyte_interface.outputs, f"{where} outputs"),
    )


def mapped_inputs(template: ftk.TaskTemplate) -> list[str] | None:
    """For a map task (`pyflyte-map-execute`), the inputs given as lists (all but the `vars` its partial bound);
    None for any other task."""
    args = list(template.container.args)
    if MAP_EXECUTE not in args:
        return None
    bound: set[str] = set()
    if "vars" in args:
        listed = args[args.index("vars") + 1]
        bound = {name for name in listed.split(",") if name}
    return sorted((n for n in template.interface.inputs.variables if n not in bound), key=natural_key)


def _duration(value: duration_pb2.Duration) -> duration_pb2.Duration | None:
    return value if (value.seconds or value.nanos) else None


def task_template(template: ftk.TaskTemplate, queue: str, config: dict[str, str]) -> gtk.TaskTemplate:
    """A Gantry task template for a flyte one, on `queue`, with the flyte template as its plugin payload. A map
    task's Gantry interface is its element's (Gantry's array node runs a task per element)."""
    where = f"task {template.id.name}"
    if template.metadata.is_eager:
        raise Unsupported(f"{where}: eager tasks are not supported by the Gantry bridge")
    if template.metadata.cache_ignore_input_vars:
        # Gantry's cache key counts every input: ignoring some would make flytekit's cache hits differ.
        raise Unsupported(f"{where}: cache_ignore_input_vars is not supported by the Gantry bridge")
    if not template.HasField("container"):
        raise Unsupported(f"{where}: task type {template.type!r} has no container to run")
    mapped = mapped_inputs(template)
    outputs_of = set(template.interface.outputs.variables) if mapped is not None else set()
    gantry_interface = gf.TypedInterface(
        inputs=variables(template.interface.inputs, f"{where} inputs", set(mapped or ())),
        outputs=variables(template.interface.outputs, f"{where} outputs", outputs_of),
    )
    metadata = template.metadata
    gantry_metadata = gtk.TaskMetadata(
        retries=gtk.RetryPolicy(user_retries=metadata.retries.retries, system_retries=SYSTEM_RETRIES),
        cache=metadata.discoverable,
        cache_version=metadata.discovery_version,
        cache_serializable=metadata.cache_serializable,
        queue=queue,
    )
    timeout = _duration(metadata.timeout)
    if timeout is not None:
        gantry_metadata.timeout.CopyFrom(timeout)
    plugin_config = dict(config)
    if mapped is not None:
        plugin_config[MAPPED_INPUTS] = ",".join(mapped)
    container = template.container
    return gtk.TaskTemplate(
        id=identifier(template.id),
        interface=gantry_interface,
        metadata=gantry_metadata,
        container=gtk.ContainerSpec(
            image=container.image,
            command=list(container.command),
            args=list(container.args),
            env={pair.key: pair.value for pair in container.env},
        ),
        plugin=TaskPlugin(
            type=template.type, custom=template.SerializeToString(deterministic=True), config=plugin_config
        ).to_proto(),
    )


def flyte_template(plugin: TaskPlugin) -> ftk.TaskTemplate:
    """The flyte TaskTemplate a bridge-made Gantry template carries."""
    template = ftk.TaskTemplate()
    template.ParseFromString(plugin.custom)
    return template


# Bindings and nodes.


def binding_data(data: fl.BindingData, where: str) -> gw.BindingData:
    kind = data.WhichOneof("value")
    if kind == "scalar":
        return gw.BindingData(literal=to_gantry_literal(fl.Literal(scalar=data.scalar), where))
    if kind == "collection":
        return gw.BindingData(
            collection=gw.BindingCollection(
                bindings=[binding_data(b, f"{where}[{i}]") for i, b in enumerate(data.collection.bindings)]
            )
        )
    if kind == "map":
        return gw.BindingData(
            map=gw.BindingMap(bindings={k: binding_data(v, f"{where}.{k}") for k, v in data.map.bindings.items()})
        )
    if kind == "promise":
        promise = data.promise
        steps = []
        for step in promise.attr_path:
            if step.WhichOneof("value") == "int_value":
                steps.append(gw.AttrStep(index=step.int_value))
            else:
                steps.append(gw.AttrStep(key=step.string_value))
        node_id = "" if promise.node_id == START_NODE else promise.node_id
        return gw.BindingData(promise=gw.Promise(node_id=node_id, output=promise.var, attr_path=steps))
    raise Unsupported(f"{where}: binding {kind or 'without a value'} has no Gantry equivalent")


def bindings(items, where: str) -> list[gw.Binding]:
    return [gw.Binding(var=b.var, binding=binding_data(b.binding, f"{where} binding {b.var!r}")) for b in items]


def _resources(resources: ftk.Resources) -> gtk.Resources:
    """Flyte's named resources as the runtime spells them (`cpu`, `memory`, ...)."""

    def spelled(entries) -> dict[str, str]:
        return {ftk.Resources.ResourceName.Name(entry.name).lower(): entry.value for entry in entries}

    return gtk.Resources(requests=spelled(resources.requests), limits=spelled(resources.limits))


def _overrides(metadata: fw.NodeMetadata, task_overrides: fw.TaskNodeOverrides | None = None) -> gw.NodeOverrides | None:
    """A node's retries, timeout and caching (`with_overrides(cache=...)` sets `cacheable`), and a task node's
    resources and image: Gantry runs the node on a template derived from its task's with them (the local runners use
    neither resources nor images). Pod templates and extended resources have no Gantry equivalent and are ignored."""
    overrides = gw.NodeOverrides()
    if metadata.HasField("retries"):
        overrides.retries.CopyFrom(
            gtk.RetryPolicy(user_retries=metadata.retries.retries, system_retries=SYSTEM_RETRIES)
        )
    timeout = _duration(metadata.timeout)
    if timeout is not None:
        overrides.timeout.CopyFrom(timeout)
    if metadata.HasField("cacheable"):
        overrides.cache.CopyFrom(
            gw.CacheOverride(
                cache=metadata.cacheable,
                cache_version=metadata.cache_version,
                cache_serializable=metadata.cache_serializable,
            )
        )
    if task_overrides is not None:
        if task_overrides.HasField("resources") and (
            task_overrides.resources.requests or task_overrides.resources.limits
        ):
            overrides.resources.CopyFrom(_resources(task_overrides.resources))
        if task_overrides.container_image:
            overrides.container_image = task_overrides.container_image
    return overrides if overrides.ListFields() else None


def node_id(flyte_id: str, where: str) -> str:
    if not NODE_ID.match(flyte_id):
        raise Unsupported(f"{where}: node id {flyte_id!r} is not a Gantry node id ([A-Za-z0-9_-], 1 to 63)")
    return flyte_id


def element_node_id(flyte_id: str) -> str:
    """The inner node of a map gets a valid id (flytekit's has dots and may pass 63 characters; nothing refers to
    it)."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", flyte_id)[:63]
    return cleaned or "element"


def node(flyte_node: fw.Node, where: str, in_arm: bool = False) -> gw.Node:
    """A Gantry node for a flyte one. Arms of a branch drop their upstream ids: they name outer nodes, which the
    branch node itself waits for, and an arm may reuse an outer node's id."""
    here = f"{where} node {flyte_node.id}"
    if flyte_node.output_aliases:
        raise Unsupported(f"{here}: output aliases are not supported by the Gantry bridge")
    result = gw.Node(id=node_id(flyte_node.id, here), inputs=bindings(flyte_node.inputs, here))
    if not in_arm:
        result.upstream.extend(u for u in flyte_node.upstream_node_ids if u != START_NODE)
    kind = flyte_node.WhichOneof("target")
    if kind == "gate_node":
        # A gate runs nothing: its node metadata's timeout is the gate's own, and retries have no meaning.
        result.gate.CopyFrom(gate(flyte_node, here))
        return result
    task_overrides = flyte_node.task_node.overrides if flyte_node.HasField("task_node") else None
    overrides = _overrides(flyte_node.metadata, task_overrides)
    if overrides is not None:
        result.overrides.CopyFrom(overrides)
    if kind == "task_node":
        result.task.CopyFrom(identifier(flyte_node.task_node.reference_id))
    elif kind == "workflow_node":
        wf = flyte_node.workflow_node
        if wf.WhichOneof("reference") == "launchplan_ref":
            result.launch_plan.CopyFrom(identifier(wf.launchplan_ref))
        else:
            result.sub_workflow.CopyFrom(identifier(wf.sub_workflow_ref))
    elif kind == "branch_node":
        result.branch.CopyFrom(branch(flyte_node.branch_node, here))
    elif kind == "array_node":
        return array(flyte_node, result, here)
    else:
        raise Unsupported(f"{here}: node kind {kind or 'without a target'} is not supported by the Gantry bridge")
    return result


def signal_id(flyte_id: str, where: str) -> str:
    if not NODE_ID.match(flyte_id):
        raise Unsupported(f"{where}: signal id {flyte_id!r} is not a Gantry signal id ([A-Za-z0-9_-], 1 to 63)")
    return flyte_id


def gate(flyte_node: fw.Node, where: str) -> gw.GateNode:
    """Gantry's gate for flytekit's `sleep`, `wait_for_input` (a signal, output `o0`) and `approve`. flytekit puts a
    timeout (1 hour unless given) in the node metadata of every gate; it is the gate's timeout for a signal or an
    approval, and is dropped for a sleep, whose duration is its deadline (Flyte ignores it there too)."""
    flyte_gate = flyte_node.gate_node
    condition = flyte_gate.WhichOneof("condition")
    if condition == "sleep":
        return gw.GateNode(sleep=flyte_gate.sleep.duration)
    if condition == "signal":
        signal = flyte_gate.signal
        result = gw.GateNode(
            signal=gw.SignalCondition(
                signal_id=signal_id(signal.signal_id, where),
                type=to_gantry_type(signal.type, f"{where}: signal {signal.signal_id!r}"),
                output_variable_name=signal.output_variable_name,
            )
        )
    elif condition == "approve":
        result = gw.GateNode(approve=gw.ApproveCondition(signal_id=signal_id(flyte_gate.approve.signal_id, where)))
    else:
        raise Unsupported(f"{where}: a gate node {condition or 'without a condition'} is not supported")
    timeout = _duration(flyte_node.metadata.timeout)
    if timeout is not None:
        result.timeout.CopyFrom(timeout)
    return result


def array(flyte_node: fw.Node, outer: gw.Node, where: str) -> gw.Node:
    """Gantry's array node: the lists on the outer node, the partial-bound values on the inner node."""
    flyte_array = flyte_node.array_node
    inner_flyte = flyte_array.node
    if inner_flyte.WhichOneof("target") != "task_node":
        raise Unsupported(f"{where}: a map over a launch plan or sub-workflow is not supported by the Gantry bridge")
    bound = set(flyte_array.bound_inputs)
    inner = gw.Node(
        id=element_node_id(inner_flyte.id),
        inputs=[b for b in bindings(inner_flyte.inputs, where) if b.var in bound],
        task=identifier(inner_flyte.task_node.reference_id),
    )
    overrides = _overrides(inner_flyte.metadata, inner_flyte.task_node.overrides)
    if overrides is not None:
        inner.overrides.CopyFrom(overrides)
    del outer.inputs[:]
    outer.inputs.extend(b for b in bindings(flyte_node.inputs, where) if b.var not in bound)
    gantry_array = gw.ArrayNode(node=inner)
    if flyte_array.WhichOneof("parallelism_option") == "parallelism" and flyte_array.parallelism:
        gantry_array.parallelism = flyte_array.parallelism
    criterion = flyte_array.WhichOneof("success_criteria")
    if criterion == "min_successes":
        gantry_array.min_successes = flyte_array.min_successes
    elif criterion == "min_success_ratio" and flyte_array.min_success_ratio < 1.0:
        # 1.0 stays absent: an explicit criterion types the outputs list<optional>, flytekit declares list<T>.
        gantry_array.min_success_ratio = flyte_array.min_success_ratio
    outer.array.CopyFrom(gantry_array)
    return outer


def branch(flyte_branch: fw.BranchNode, where: str) -> gw.BranchNode:
    if_else = flyte_branch.if_else
    cases = [if_else.case, *if_else.other]
    result = gw.BranchNode(
        cases=[
            gw.IfBlock(
                condition=boolean(case.condition, f"{where} case {i}"),
                then_node=node(case.then_node, f"{where} case {i}", in_arm=True),
            )
            for i, case in enumerate(cases)
        ]
    )
    if if_else.WhichOneof("default") == "else_node":
        result.else_node.CopyFrom(node(if_else.else_node, f"{where} else", in_arm=True))
    else:
        result.else_error = if_else.error.message or "no case of the conditional holds"
    return result


_COMPARISON = {
    fc.ComparisonExpression.EQ: gw.COMPARISON_OPERATOR_EQ,
    fc.ComparisonExpression.NEQ: gw.COMPARISON_OPERATOR_NEQ,
    fc.ComparisonExpression.GT: gw.COMPARISON_OPERATOR_GT,
    fc.ComparisonExpression.GTE: gw.COMPARISON_OPERATOR_GTE,
    fc.ComparisonExpression.LT: gw.COMPARISON_OPERATOR_LT,
    fc.ComparisonExpression.LTE: gw.COMPARISON_OPERATOR_LTE,
}
_CONJUNCTION = {
    fc.ConjunctionExpression.AND: gw.CONJUNCTION_OPERATOR_AND,
    fc.ConjunctionExpression.OR: gw.CONJUNCTION_OPERATOR_OR,
}


def boolean(expression: fc.BooleanExpression, where: str) -> gw.BooleanExpression:
    if expression.WhichOneof("expr") == "conjunction":
        c = expression.conjunction
        return gw.BooleanExpression(
            conjunction=gw.ConjunctionExpression(
                op=_CONJUNCTION[c.operator],
                left=boolean(c.left_expression, where),
                right=boolean(c.right_expression, where),
            )
        )
    c = expression.comparison
    return gw.BooleanExpression(
        comparison=gw.ComparisonExpression(
            op=_COMPARISON[c.operator], left=operand(c.left_value, where), right=operand(c.right_value, where)
        )
    )


def operand(flyte_operand: fc.Operand, where: str) -> gw.Operand:
    kind = flyte_operand.WhichOneof("val")
    if kind == "var":
        return gw.Operand(var=flyte_operand.var)
    if kind == "primitive":
        scalar = fl.Scalar(primitive=flyte_operand.primitive)
    else:
        scalar = flyte_operand.scalar
    return gw.Operand(literal=to_gantry_literal(fl.Literal(scalar=scalar), f"{where} operand"))


# Workflows, launch plans, dynamic specs, errors.

_FAILURE_POLICY = {
    fw.WorkflowMetadata.FAIL_IMMEDIATELY: gw.FAILURE_POLICY_FAIL_IMMEDIATELY,
    fw.WorkflowMetadata.FAIL_AFTER_EXECUTABLE_NODES_COMPLETE: gw.FAILURE_POLICY_FAIL_AFTER_EXECUTABLE_NODES_COMPLETE,
}


def workflow_template(template: fw.WorkflowTemplate) -> gw.WorkflowTemplate:
    where = f"workflow {template.id.name}"
    if template.HasField("failure_node") and template.failure_node.id:
        raise Unsupported(f"{where}: failure nodes (on_failure) are not supported by the Gantry bridge")
    return gw.WorkflowTemplate(
        id=identifier(template.id),
        interface=interface(template.interface, where),
        nodes=[node(n, where) for n in template.nodes],
        outputs=bindings(template.outputs, f"{where} outputs"),
        failure_policy=_FAILURE_POLICY[template.metadata.on_failure],
    )


def launch_plan(plan: flaunch.LaunchPlan) -> glp.LaunchPlan:
    """A Gantry launch plan of the plan's workflow; parameter defaults become default inputs."""
    where = f"launch plan {plan.id.name}"
    spec = plan.spec
    defaults = gl.LiteralMap()
    for name, parameter in spec.default_inputs.parameters.items():
        if parameter.WhichOneof("behavior") == "default":
            defaults.literals[name].CopyFrom(to_gantry_literal(parameter.default, f"{where} default {name!r}"))
    result = glp.LaunchPlan(
        id=identifier(plan.id),
        target=identifier(spec.workflow_id),
        target_type=gi.RESOURCE_TYPE_WORKFLOW,
        default_inputs=defaults,
        fixed_inputs=to_gantry_literal_map(spec.fixed_inputs, f"{where} fixed inputs"),
    )
    if spec.max_parallelism:
        result.max_parallelism = spec.max_parallelism
    if spec.entity_metadata.HasField("schedule"):
        result.schedule.CopyFrom(schedule(spec.entity_metadata.schedule, where))
    return result


# flytekit's cron aliases (`CronSchedule(schedule="@daily")`, also accepted without the `@` and in the plural), as
# the five-field expressions they stand for in Flyte's native scheduler (robfig/cron's descriptors).
_CRON_ALIASES = {
    "hourly": "0 * * * *",
    "daily": "0 0 * * *",
    "weekly": "0 0 * * 0",
    "monthly": "0 0 1 * *",
    "yearly": "0 0 1 1 *",
    "annually": "0 0 1 1 *",
}
_CRON_ALIASES.update({f"@{name}": expression for name, expression in list(_CRON_ALIASES.items())})
_CRON_ALIASES.update({"hours": "0 * * * *", "days": "0 0 * * *", "weeks": "0 0 * * 0", "months": "0 0 1 * *"})
_CRON_ALIASES["years"] = "0 0 1 1 *"
_RATE_UNIT_SECONDS = {fs.MINUTE: 60, fs.HOUR: 3600, fs.DAY: 86_400}
# Flyte's native scheduler replays every tick missed while it was down; Gantry runs at most this many of them.
CATCH_UP_LIMIT = 1000


def schedule(flyte_schedule: fs.Schedule, where: str) -> glp.Schedule:
    """A Flyte schedule as Gantry's: a five-field cron (or an alias) in UTC, or a fixed rate, with the kickoff input.
    Missed ticks run as in Flyte (all of them, up to Gantry's limit of 1,000). A cron offset, AWS-style
    `cron_expression` or an expression of other than five fields has no Gantry equivalent and is `Unsupported`."""
    kind = flyte_schedule.WhichOneof("ScheduleExpression")
    result = glp.Schedule(
        kickoff_time_input=flyte_schedule.kickoff_time_input_arg,
        catch_up=glp.CATCH_UP_POLICY_RUN_MISSED,
        catch_up_limit=CATCH_UP_LIMIT,
    )
    if kind == "cron_schedule":
        cron = flyte_schedule.cron_schedule
        if cron.offset:
            raise Unsupported(
                f"{where}: schedule {cron.schedule!r} has the offset {cron.offset!r}: Gantry schedules have no offset"
            )
        expression = _CRON_ALIASES.get(cron.schedule.strip().lower(), cron.schedule)
        fields = len(expression.split())
        if fields != 5:
            raise Unsupported(
                f"{where}: cron schedule {cron.schedule!r} has {fields} fields: the Gantry bridge takes five (minute "
                "hour day-of-month month day-of-week) or an alias such as @daily"
            )
        result.cron.CopyFrom(glp.CronSchedule(expression=expression))
    elif kind == "rate":
        rate = flyte_schedule.rate
        if rate.unit not in _RATE_UNIT_SECONDS:
            raise Unsupported(f"{where}: fixed rate unit {rate.unit} is not supported by the Gantry bridge")
        result.fixed_rate.CopyFrom(duration_pb2.Duration(seconds=rate.value * _RATE_UNIT_SECONDS[rate.unit]))
    elif kind == "cron_expression":
        raise Unsupported(
            f"{where}: the AWS-style cron_expression {flyte_schedule.cron_expression!r} is not supported by the "
            "Gantry bridge (nor by Flyte's native scheduler): use CronSchedule(schedule=...) with five fields"
        )
    else:
        raise Unsupported(f"{where}: a schedule with neither a cron nor a rate")
    return result


def dynamic_spec(spec: fd.DynamicJobSpec, queue: str, config: dict[str, str], where: str) -> gd.DynamicJobSpec:
    """futures.pb as Gantry's spec. Flyte's min_successes is dropped: Flyte ignores it, Gantry would enforce it."""
    return gd.DynamicJobSpec(
        nodes=[node(n, where) for n in spec.nodes],
        outputs=bindings(spec.outputs, f"{where} outputs"),
        tasks=[task_template(t, queue, config) for t in spec.tasks],
        subworkflows=[workflow_template(w) for w in spec.subworkflows],
    )


def execution_error(document: fe.ErrorDocument) -> gx.ExecutionError:
    """error.pb as Gantry's error: SYSTEM origin stays a system error, anything else is the user's."""
    error = document.error
    return gx.ExecutionError(
        kind=gx.ERROR_KIND_SYSTEM if error.origin == fx.ExecutionError.SYSTEM else gx.ERROR_KIND_USER,
        recoverable=error.kind == fe.ContainerError.RECOVERABLE,
        code=error.code or "ContainerError",
        message=error.message,
    )


def flyte_types(variable_map: ff.VariableMap) -> dict[str, ft.LiteralType]:
    return {name: variable.type for name, variable in variable_map.variables.items()}
