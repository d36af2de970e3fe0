"""The client: register tasks, run them with Python inputs, wait for or watch an execution, read its outputs as
Python values (reading what the server sent by reference), list its node tree, terminate it, set its signals; and
launch plans' schedules: list, activate, deactivate (admin.proto)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from typing import Any, Iterable, Iterator, NoReturn

import grpc

from gantry.errors import ExecutionFailed, GantryError
from gantry.references import read_spec, resolve_map
from gantry.schedules import CronSchedule, FixedRate, ScheduleState
from gantry.task import (
    DEFAULT_DOMAIN,
    DEFAULT_PROJECT,
    Interface,
    LaunchPlanReference,
    Target,
    TaskFunction,
    WorkflowReference,
    format_identifier,
    identifier,
    parse_identifier,
)
from gantry.types import datetime_of, from_literal, literal_map, python_values, to_literal
from gantry.v1 import (
    admin_pb2,
    admin_pb2_grpc,
    execution_pb2,
    identifier_pb2,
    launch_plan_pb2,
    literals_pb2,
    types_pb2,
    workflow_pb2,
)
from gantry import _tracing
from gantry._channels import TlsSettings, make_channel, raise_for_tls

TERMINAL_PHASES = {
    execution_pb2.EXECUTION_PHASE_SUCCEEDED,
    execution_pb2.EXECUTION_PHASE_FAILED,
    execution_pb2.EXECUTION_PHASE_ABORTED,
    execution_pb2.EXECUTION_PHASE_TIMED_OUT,
}


@dataclasses.dataclass
class Signal:
    """A signal of an execution (`Client.list_signals`): one a running gate waits for (`node_id` names the gate), or
    one already set (`is_set`, with its `value`; `node_id` is empty once no gate waits for it)."""

    signal_id: str
    node_id: str
    # The type a value must have (boolean for an approval), as the server states it.
    type: types_pb2.LiteralType
    approval: bool
    # When the gate stops waiting (its timeout); None when it waits as long as the execution runs.
    deadline: dt.datetime | None
    is_set: bool
    # The value as a Python value once set, else None; `literal` is the value as the server holds it.
    value: Any
    literal: literals_pb2.Literal | None
    set_at: dt.datetime | None
    set_by: str

    @classmethod
    def from_proto(cls, signal: admin_pb2.Signal) -> Signal:
        is_set = signal.HasField("value")
        return cls(
            signal_id=signal.signal_id,
            node_id=signal.node_id,
            type=signal.type,
            approval=signal.approval,
            deadline=datetime_of(signal.deadline) if signal.HasField("deadline") else None,
            is_set=is_set,
            value=from_literal(signal.value) if is_set else None,
            literal=signal.value if is_set else None,
            set_at=datetime_of(signal.set_at) if signal.HasField("set_at") else None,
            set_by=signal.set_by,
        )


def phase_name(phase: int) -> str:
    """`SUCCEEDED` for EXECUTION_PHASE_SUCCEEDED."""
    return execution_pb2.ExecutionPhase.Name(phase).removeprefix("EXECUTION_PHASE_")


def node_phase_name(phase: int) -> str:
    return execution_pb2.NodePhase.Name(phase).removeprefix("NODE_PHASE_")


def _rpc(client: Client, call, request, what: str, timeout: float | None = 30, metadata=None):
    try:
        if metadata:
            return call(request, timeout=timeout, metadata=metadata)
        return call(request, timeout=timeout)
    except grpc.RpcError as error:
        _refused(client, what, error)


def _refused(client: Client, what: str, error: grpc.RpcError) -> NoReturn:
    """Raises the error a failed call is to its caller: TlsError for a TLS failure, GantryError otherwise."""
    raise_for_tls(client.address, client.tls, error)
    raise GantryError(f"{what}: {error.code().name}: {error.details()}") from None


@dataclasses.dataclass
class Execution:
    """An execution started by `Client.run`, with the output types of its target when they are known."""

    client: Client
    id: str
    output_types: dict[str, Any] | None = None

    def get(self) -> execution_pb2.Execution:
        """The execution as the server has it now (phase, error, times). Its large inputs come as references (read
        the values with `data()`), so that waiting on an execution never downloads them."""
        request = admin_pb2.GetExecutionRequest(id=self.id, references=True)
        return _rpc(self.client, self.client.admin.GetExecution, request, "GetExecution").execution

    @property
    def phase(self) -> str:
        return phase_name(self.get().phase)

    def watch(self, include_snapshot: bool = True) -> Iterator[execution_pb2.PhaseChange]:
        """Every phase change of the execution, its nodes (at every depth) and attempts, until the execution's
        terminal change; starting with a snapshot of the current state unless `include_snapshot` is False."""
        request = admin_pb2.WatchExecutionRequest(execution_id=self.id, include_snapshot=include_snapshot)
        try:
            for response in self.client.admin.WatchExecution(request):
                yield from response.changes
        except grpc.RpcError as error:
            _refused(self.client, "WatchExecution", error)

    def wait(self, timeout: float | None = None) -> execution_pb2.Execution:
        """Waits for a terminal phase (watching, not polling) and returns the execution. TimeoutError after
        `timeout` seconds."""
        request = admin_pb2.WatchExecutionRequest(execution_id=self.id, include_snapshot=True)
        stream = self.client.admin.WatchExecution(request, timeout=timeout)
        try:
            for response in stream:
                for change in response.changes:
                    if change.WhichOneof("change") == "execution" and change.execution.phase in TERMINAL_PHASES:
                        stream.cancel()
                        return self.get()
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise TimeoutError(f"execution {self.id} not finished after {timeout}s") from None
            if error.code() != grpc.StatusCode.CANCELLED:
                _refused(self.client, "WatchExecution", error)
        # The stream ends after the terminal change; reaching here means it was the last one seen.
        return self.get()

    def data(self, references: bool = False) -> admin_pb2.GetExecutionDataResponse:
        """The execution's inputs, and its outputs or error. Values the server sent by reference (too large for one
        response) are read, unless `references` asks for every large value as a reference, left unread."""
        request = admin_pb2.GetExecutionDataRequest(id=self.id, references=references)
        response = _rpc(self.client, self.client.admin.GetExecutionData, request, "GetExecutionData")
        if not references:
            resolve_map(self.client.admin, response.inputs)
            resolve_map(self.client.admin, response.outputs)
        return response

    def outputs(self, timeout: float | None = None) -> dict[str, Any]:
        """Waits for the execution and returns its outputs as Python values (typed by the target's declared outputs
        when the client knows them). ExecutionFailed if it did not succeed."""
        execution = self.wait(timeout)
        if execution.phase != execution_pb2.EXECUTION_PHASE_SUCCEEDED:
            raise ExecutionFailed(self.id, phase_name(execution.phase), execution.error)
        return python_values(self.data().outputs, self.output_types)

    def result(self, timeout: float | None = None) -> Any:
        """The single output's value (or None for a target with no outputs); ValueError with several."""
        outputs = self.outputs(timeout)
        if len(outputs) > 1:
            raise ValueError(f"execution {self.id} has several outputs {sorted(outputs)}: use outputs()")
        return next(iter(outputs.values()), None)

    def error(self) -> execution_pb2.ExecutionError | None:
        execution = self.get()
        return execution.error if execution.HasField("error") else None

    def nodes(self, parent: str = "", phases: Iterable[int] = ()) -> list[execution_pb2.NodeExecution]:
        """The node executions directly under `parent` (a scoped node id; empty for the top level), all pages."""
        return self.client.list_nodes(self.id, parent, phases)

    def node_tree(self, parent: str = "") -> list[tuple[execution_pb2.NodeExecution, list]]:
        """Every node under `parent`, recursively: `[(node, children), ...]`."""
        return [(node, self.node_tree(node.node_id) if node.is_parent else []) for node in self.nodes(parent)]

    def node_data(self, node_id: str, references: bool = False) -> admin_pb2.GetNodeExecutionDataResponse:
        """A node's inputs, outputs and dynamic spec, read whole as `data()` reads them (a spec sent by reference
        too, into `dynamic_spec`) unless `references` asks for references to every large value."""
        request = admin_pb2.GetNodeExecutionDataRequest(execution_id=self.id, node_id=node_id, references=references)
        response = _rpc(self.client, self.client.admin.GetNodeExecutionData, request, "GetNodeExecutionData")
        if not references:
            resolve_map(self.client.admin, response.inputs)
            resolve_map(self.client.admin, response.outputs)
            if response.HasField("dynamic_spec_reference"):
                response.dynamic_spec.CopyFrom(read_spec(self.client.admin, response.dynamic_spec_reference))
                response.ClearField("dynamic_spec_reference")
        return response

    def terminate(self, reason: str = "terminated by the Python client") -> execution_pb2.Execution:
        request = admin_pb2.TerminateExecutionRequest(id=self.id, reason=reason)
        return _rpc(self.client, self.client.admin.TerminateExecution, request, "TerminateExecution").execution


class Client:
    """A connection to a Gantry server's admin API: `Client("http://127.0.0.1:50051")`.

    An `https://` address speaks TLS: the server is verified against the system's trust store, or against the CA
    certificates in `ca_file` (PEM); `client_cert_file` and `client_key_file` (PEM) are presented to a server that
    asks for a client certificate (mutual TLS). A call that fails at TLS raises `TlsError`; nothing falls back to
    plaintext. `http://` and `host:port` addresses are plaintext, and ignore the TLS arguments. `token` (an API key
    from `gantry auth keys create`) is presented on every call to a server with authentication."""

    def __init__(
        self,
        address: str,
        *,
        project: str | None = None,
        domain: str | None = None,
        max_message_bytes: int = 64 * 1024 * 1024,
        ca_file: str | os.PathLike | None = None,
        client_cert_file: str | os.PathLike | None = None,
        client_key_file: str | os.PathLike | None = None,
        token: str | None = None,
    ):
        self.address = address
        self.project = project
        self.domain = domain
        self.tls = TlsSettings(ca_file, client_cert_file, client_key_file)
        self.channel = make_channel(address, max_message_bytes, self.tls, token=token)
        self.admin = admin_pb2_grpc.AdminServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def register(self, *tasks: TaskFunction) -> int:
        """Registers task templates; an identical one already registered is fine. Returns how many were created.
        GantryError (ALREADY_EXISTS) when a different template holds the id."""
        created = 0
        for task in tasks:
            response = _rpc(
                self,
                self.admin.RegisterTask, admin_pb2.RegisterTaskRequest(task=task.template), f"registering {task!r}"
            )
            created += int(response.created)
        return created

    def register_workflow(
        self, template: workflow_pb2.WorkflowTemplate, inputs: dict[str, Any] | None = None, outputs: Any = None
    ) -> WorkflowReference:
        """Registers a workflow template (built as a proto) and returns a reference to yield or run it; `inputs` and
        `outputs` give Python types for its variables."""
        request = admin_pb2.RegisterWorkflowRequest(workflow=template)
        _rpc(self, self.admin.RegisterWorkflow, request, "RegisterWorkflow")
        return WorkflowReference(template.id, inputs, outputs)

    def register_launch_plan(
        self,
        target: TaskFunction | WorkflowReference,
        name: str,
        *,
        version: str = "1",
        default_inputs: dict[str, Any] | None = None,
        fixed_inputs: dict[str, Any] | None = None,
        max_parallelism: int | None = None,
        schedule: CronSchedule | FixedRate | None = None,
    ) -> LaunchPlanReference:
        """Registers a launch plan of a task or workflow, in the target's project and domain, and returns a reference
        whose interface is the target's less the fixed inputs. With a `schedule` (`gantry.CronSchedule`,
        `gantry.FixedRate`) the plan is registered inactive: `activate_schedule` starts its ticks. GantryError
        (INVALID_ARGUMENT) for a malformed schedule: a bad cron expression or time zone, a rate under a second, a
        catch-up limit outside 1..1000, a kickoff input the target lacks, that is not a datetime, or that the plan
        fixes."""
        interface = target.interface
        input_types = interface.inputs if interface is not None else {}
        default_inputs, fixed_inputs = dict(default_inputs or {}), dict(fixed_inputs or {})
        plan = launch_plan_pb2.LaunchPlan(
            id=identifier(target.id.project, target.id.domain, name, version),
            target=target.id,
            target_type=(
                identifier_pb2.RESOURCE_TYPE_TASK if target.kind == "task" else identifier_pb2.RESOURCE_TYPE_WORKFLOW
            ),
        )
        if default_inputs:
            plan.default_inputs.CopyFrom(literal_map(default_inputs, input_types))
        if fixed_inputs:
            plan.fixed_inputs.CopyFrom(literal_map(fixed_inputs, input_types))
        if max_parallelism is not None:
            plan.max_parallelism = max_parallelism
        if schedule is not None:
            if not isinstance(schedule, (CronSchedule, FixedRate)):
                raise TypeError(f"schedule must be a gantry.CronSchedule or gantry.FixedRate, got {schedule!r}")
            plan.schedule.CopyFrom(schedule.to_proto())
        request = admin_pb2.RegisterLaunchPlanRequest(launch_plan=plan)
        _rpc(self, self.admin.RegisterLaunchPlan, request, "RegisterLaunchPlan")
        if interface is None:
            return LaunchPlanReference(plan.id, None, None)
        visible = {name: ty for name, ty in interface.inputs.items() if name not in fixed_inputs}
        reference = LaunchPlanReference(plan.id, visible, interface.outputs)
        reference.interface = Interface(
            inputs=visible,
            outputs=interface.outputs,
            defaults={**{n: v for n, v in interface.defaults.items() if n in visible}, **default_inputs},
        )
        return reference

    def run(
        self,
        target: Target | str,
        inputs: dict[str, Any] | None = None,
        *,
        execution_name: str = "",
        project: str | None = None,
        domain: str | None = None,
        kind: str = "task",
        max_parallelism: int | None = None,
        overwrite_cache: bool = False,
        **kwargs: Any,
    ) -> Execution:
        """Starts an execution of a task (a decorated function or a reference) or, by `project/domain/name@version`
        with `kind` "workflow" or "launch_plan", of those. Inputs come as `inputs` and/or keyword arguments, encoded
        with the target's declared input types when known. The execution lives in the target's project and domain
        unless told otherwise."""
        values = dict(inputs or {})
        values.update(kwargs)
        if isinstance(target, str):
            ident, interface, kind_of_target = parse_identifier(target), None, kind
        else:
            ident, interface, kind_of_target = target.id, target.interface, target.kind
        input_types = interface.inputs if interface is not None else None
        request = admin_pb2.CreateExecutionRequest(
            project=project or self.project or ident.project,
            domain=domain or self.domain or ident.domain,
            name=execution_name,
            inputs=literal_map(values, input_types),
            overwrite_cache=overwrite_cache,
        )
        if max_parallelism is not None:
            request.max_parallelism = max_parallelism
        if kind_of_target == "task":
            request.task.CopyFrom(ident)
        elif kind_of_target in ("workflow", "sub_workflow"):
            request.workflow.CopyFrom(ident)
        elif kind_of_target == "launch_plan":
            request.launch_plan.CopyFrom(ident)
        else:
            raise ValueError(f"cannot run a {kind_of_target}")
        # Inside a span (with OpenTelemetry installed), the execution joins its trace: its attempts' spans are its
        # descendants, in whichever worker they run.
        response = _rpc(
            self,
            self.admin.CreateExecution,
            request,
            f"running {format_identifier(ident)}",
            metadata=_tracing.outgoing_metadata(),
        )
        output_types = interface.outputs if interface is not None else None
        return Execution(self, response.execution.id, output_types)

    def execution(self, execution_id: str, output_types: dict[str, Any] | None = None) -> Execution:
        """A handle on an existing execution."""
        return Execution(self, execution_id, output_types)

    def list_nodes(self, execution_id: str, parent: str = "", phases: Iterable[int] = ()) -> list:
        nodes = []
        token = ""
        while True:
            request = admin_pb2.ListNodeExecutionsRequest(
                execution_id=execution_id, parent_node_id=parent, phases=list(phases), page_size=1000, page_token=token
            )
            response = _rpc(self, self.admin.ListNodeExecutions, request, "ListNodeExecutions")
            nodes.extend(response.node_executions)
            token = response.next_page_token
            if not token:
                return nodes

    def inputs_of(self, execution: Execution) -> dict[str, Any]:
        return python_values(execution.data().inputs)

    def list_signals(self, execution_id: str) -> list[Signal]:
        """The signals of an execution: those its running gates wait for (one entry per gate) and those already set,
        ordered by signal id, then node id."""
        request = admin_pb2.ListSignalsRequest(execution_id=execution_id)
        response = _rpc(self, self.admin.ListSignals, request, "ListSignals")
        return [Signal.from_proto(signal) for signal in response.signals]

    def set_signal(self, execution_id: str, signal_id: str, value: Any, type: Any = None) -> bool:
        """Sets the execution's signal `signal_id` to `value`, encoded as the Python type `type` (inferred from the
        value when None; a `Literal` is sent as it is), opening every gate that waits for it. Returns whether it
        changed anything: False when the signal already held this value. GantryError when the server refuses:
        INVALID_ARGUMENT for a value that does not fit the type the gates wait for (nothing changes), NOT_FOUND when no
        running gate waits for the signal, FAILED_PRECONDITION when it was already set to another value or the
        execution finished."""
        request = admin_pb2.SetSignalRequest(
            execution_id=execution_id, signal_id=signal_id, value=to_literal(value, type)
        )
        response = _rpc(self, self.admin.SetSignal, request, f"setting signal {signal_id!r}")
        return response.changed

    def approve(self, execution_id: str, signal_id: str, approved: bool = True) -> bool:
        """Approves (or, with `approved=False`, rejects) the execution's approval `signal_id`: the signal set to a
        boolean. An approved gate passes its value on; a rejected one fails (error code `gate_rejected`). Returns
        whether it changed anything, and raises as `set_signal` does."""
        return self.set_signal(execution_id, signal_id, bool(approved), bool)

    def reject(self, execution_id: str, signal_id: str) -> bool:
        """Rejects the execution's approval `signal_id`: `approve(..., approved=False)`."""
        return self.approve(execution_id, signal_id, approved=False)

    def list_schedules(self, project: str | None = None, domain: str | None = None) -> list[ScheduleState]:
        """The schedules of a project and domain's launch plans (the client's, else `demo`/`dev`), active or not,
        with the next ticks of the active ones."""
        request = admin_pb2.ListSchedulesRequest(
            project=project or self.project or DEFAULT_PROJECT, domain=domain or self.domain or DEFAULT_DOMAIN
        )
        response = _rpc(self, self.admin.ListSchedules, request, "ListSchedules")
        return [ScheduleState.from_proto(state) for state in response.schedules]

    def activate_schedule(
        self, launch_plan: LaunchPlanReference | str, *, project: str | None = None, domain: str | None = None
    ) -> ScheduleState:
        """Activates a launch plan's schedule from now: its first tick is the first after now, and the other
        versions of its name are deactivated. Idempotent. The plan is a reference (`register_launch_plan`'s),
        `project/domain/name@version`, or `name[@version]` in `project` and `domain` (the client's, else
        `demo`/`dev`; a name without a version is the version registered last). GantryError: NOT_FOUND for
        an unregistered plan, FAILED_PRECONDITION for one without a schedule."""
        ident = self._launch_plan_id(launch_plan, project, domain)
        request = admin_pb2.ActivateScheduleRequest(launch_plan=ident)
        response = _rpc(self, self.admin.ActivateSchedule, request, f"activating {format_identifier(ident)}")
        return ScheduleState.from_proto(response.schedule)

    def deactivate_schedule(
        self, launch_plan: LaunchPlanReference | str, *, project: str | None = None, domain: str | None = None
    ) -> ScheduleState:
        """Deactivates a launch plan's schedule: no more ticks. Idempotent; the plan as `activate_schedule` takes it,
        and refused as it is."""
        ident = self._launch_plan_id(launch_plan, project, domain)
        request = admin_pb2.DeactivateScheduleRequest(launch_plan=ident)
        response = _rpc(self, self.admin.DeactivateSchedule, request, f"deactivating {format_identifier(ident)}")
        return ScheduleState.from_proto(response.schedule)

    def _launch_plan_id(
        self, launch_plan: LaunchPlanReference | str, project: str | None, domain: str | None
    ) -> identifier_pb2.Identifier:
        if isinstance(launch_plan, LaunchPlanReference):
            return launch_plan.id
        if not isinstance(launch_plan, str):
            raise TypeError(f"expected a LaunchPlanReference or a launch plan's name, got {launch_plan!r}")
        if "/" in launch_plan:
            return parse_identifier(launch_plan)
        project = project or self.project or DEFAULT_PROJECT
        domain = domain or self.domain or DEFAULT_DOMAIN
        name, at, version = launch_plan.partition("@")
        if at and not version:
            raise ValueError(f"expected name[@version], got {launch_plan!r}")
        if not version:
            # A get without a version answers the version registered last.
            request = admin_pb2.GetLaunchPlanRequest(id=identifier(project, domain, name, ""))
            response = _rpc(self, self.admin.GetLaunchPlan, request, f"looking up launch plan {name!r}")
            version = response.launch_plan.id.version
        return identifier(project, domain, name, version)
