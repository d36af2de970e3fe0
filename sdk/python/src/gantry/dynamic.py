"""Dynamic tasks: nodes, promises, branches, and the dynamic job spec (dynamic.proto) a generator turns into.

A dynamic task's function is a generator. Each `yield` adds a node to the spec (ids `dn0`, `dn1`, ... in yield
order, as the Rust SDK numbers them) and the `yield` expression gives the node back. The value the generator
returns becomes the spec's output bindings: promises of the nodes' outputs (`node.outputs.name`), literals, or lists
and dicts of them. Outputs of yielded nodes are only referenced, never read: the server assembles the parent's outputs
once the nodes are done (the seed's "think of this step as a map").

Gates are nodes too, yielded the same way: `sleep(duration)` waits for time to pass, `wait_for_input(name, type)`
for a signal's value (its output `o0`), `approve(value, name)` for an approval that passes `value` on as `o0`. A node
that must wait for a node whose outputs it does not bind (a sleep, say) says so with `node.after(gate)`.

A spec keeps to the server's limits (`SpecLimits`, which the worker learns from every poll): the `yield` of a node
past the node limit, or of one that takes the encoded spec past the byte limit, raises `SpecTooLarge` inside the
generator, a non-recoverable user error `spec_too_large` naming the limit, so a runaway loop (`range(2**63 - 1)`)
stops there instead of exhausting the worker's memory. A node is encoded to be measured when yielded (the encoding is
not kept: encoded messages take several times the memory of the nodes); the whole spec, outputs included, is checked
once more as it is built when the generator returns.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import re
import threading
import types as pytypes
import typing
from typing import Any, Iterator

from gantry.limits import COMPLETION_SPEC_FIELD, NODES_FIELD, SpecLimits, SpecTooLarge, field_len
from gantry.types import LiteralTypeError, infer_type, literal_type, to_literal
from gantry.v1 import dynamic_pb2, task_pb2, workflow_pb2

_state = threading.local()


def building() -> bool:
    """Whether this thread is running a dynamic task's generator (calls of tasks then make nodes)."""
    return getattr(_state, "building", 0) > 0


@contextlib.contextmanager
def _building() -> Iterator[None]:
    _state.building = getattr(_state, "building", 0) + 1
    try:
        yield
    finally:
        _state.building -= 1


class DynamicSpecError(ValueError):
    """A generator produced something that is not a valid spec (a promise of a node never yielded, say)."""


class Promise:
    """A reference to an output of a node (or a part of it: `promise[0]`, `promise["key"]`), to bind to another
    node's input or to the dynamic task's outputs."""

    def __init__(self, node: Node, output: str, py_type: Any = None, path: tuple[int | str, ...] = ()):
        self.node = node
        self.output = output
        self.py_type = py_type
        self.path = path

    def __getitem__(self, step: int | str) -> Promise:
        if isinstance(step, bool) or not isinstance(step, (int, str)):
            raise TypeError("a promise is indexed by an int (list element) or a str (map key or struct field)")
        if isinstance(step, int) and step < 0:
            raise IndexError("promise indices must not be negative")
        return Promise(self.node, self.output, None, self.path + (step,))

    def to_proto(self) -> workflow_pb2.Promise:
        if self.node.id is None:
            raise DynamicSpecError(
                f"an output of {self.node.describe()} is used but the node was never yielded; yield it first"
            )
        steps = [
            workflow_pb2.AttrStep(index=step) if isinstance(step, int) else workflow_pb2.AttrStep(key=step)
            for step in self.path
        ]
        return workflow_pb2.Promise(node_id=self.node.id, output=self.output, attr_path=steps)

    def __repr__(self) -> str:
        path = "".join(f"[{step!r}]" for step in self.path)
        return f"<promise {self.node.id or '?'}.{self.output}{path}>"

    def __bool__(self) -> bool:
        raise TypeError(
            "a promise has no value while the generator runs; branch on it with gantry.branch, or pass it to a task"
        )

    def __iter__(self):
        raise TypeError("a promise cannot be iterated while the generator runs; pass it to a task that does")


class Outputs:
    """`node.outputs.name`: a promise of each output of a node."""

    def __init__(self, node: Node):
        self._node = node

    def __getattr__(self, name: str) -> Promise:
        if name.startswith("__"):
            raise AttributeError(name)
        outputs = self._node.output_types
        if outputs is not None and name not in outputs:
            raise AttributeError(f"{self._node.describe()} has no output {name!r} (outputs: {list(outputs)})")
        return Promise(self._node, name, None if outputs is None else outputs[name])

    def __getitem__(self, name: str) -> Promise:
        return self.__getattr__(name)


class Node:
    """A node of a dynamic job spec: a call of a task, launch plan or workflow, a branch, or a gate. Made by calling
    one of those inside a generator; gets its id when yielded."""

    def __init__(self, target: Any, inputs: dict[str, Any]):
        self.target = target
        self.inputs = inputs
        self.id: str | None = None
        self.upstream: list[Node] = []
        self.retries: tuple[int, int] | None = None
        self.timeout: Any = None
        # Overrides that make the node run a template derived from its task's (workflow.proto, NodeOverrides).
        self.template_overrides = workflow_pb2.NodeOverrides()

    @property
    def output_types(self) -> dict[str, Any] | None:
        interface = getattr(self.target, "interface", None)
        return None if interface is None else interface.outputs

    @property
    def input_types(self) -> dict[str, Any]:
        interface = getattr(self.target, "interface", None)
        return {} if interface is None else interface.inputs

    @property
    def outputs(self) -> Outputs:
        return Outputs(self)

    def describe(self) -> str:
        return f"{self.target.kind} {self.target.display_name}"

    def after(self, *nodes: Node) -> Node:
        """Runs this node only after `nodes` finish, though none of its inputs says so."""
        self.upstream.extend(nodes)
        return self

    def with_overrides(
        self,
        *,
        retries: int | None = None,
        system_retries: int | None = None,
        timeout: Any = None,
        cache: bool | None = None,
        cache_version: str = "",
        cache_serializable: bool = False,
        requests: dict[str, str] | None = None,
        limits: dict[str, str] | None = None,
        container_image: str | None = None,
    ):
        """Replaces, for this node only, the task's retry budget or attempt timeout; its caching (`cache` on or off,
        with `cache_version` and `cache_serializable`); its container's resources (`requests` and `limits`, e.g.
        `{"cpu": "2"}`, together replacing the task's); or its container's image. The last three make the node run a
        template derived from the task's, which the worker receives."""
        if retries is not None or system_retries is not None:
            self.retries = (retries or 0, 3 if system_retries is None else system_retries)
        if timeout is not None:
            self.timeout = timeout
        if cache is not None:
            self.template_overrides.cache.CopyFrom(
                workflow_pb2.CacheOverride(
                    cache=cache, cache_version=cache_version, cache_serializable=cache_serializable
                )
            )
        if requests is not None or limits is not None:
            self.template_overrides.resources.CopyFrom(
                task_pb2.Resources(requests=dict(requests or {}), limits=dict(limits or {}))
            )
        if container_image is not None:
            self.template_overrides.container_image = container_image
        return self

    def to_proto(self, node_id: str) -> workflow_pb2.Node:
        node = self._bound(node_id)
        if self.template_overrides.ListFields():
            node.overrides.MergeFrom(self.template_overrides)
        if self.retries is not None:
            node.overrides.retries.user_retries, node.overrides.retries.system_retries = self.retries
        if self.timeout is not None:
            from gantry.task import _duration

            node.overrides.timeout.CopyFrom(_duration(self.timeout))
        kind = self.target.kind
        if kind == "task":
            node.task.CopyFrom(self.target.id)
        elif kind == "launch_plan":
            node.launch_plan.CopyFrom(self.target.id)
        elif kind == "sub_workflow":
            node.sub_workflow.CopyFrom(self.target.id)
        else:
            raise DynamicSpecError(f"cannot make a node of {kind}")
        return node

    def _bound(self, node_id: str) -> workflow_pb2.Node:
        """The node's id, input bindings and upstream ids; what it runs is added by the caller."""
        bindings = []
        for name, value in self.inputs.items():
            try:
                bindings.append(workflow_pb2.Binding(var=name, binding=binding(value, self.input_types.get(name))))
            except LiteralTypeError as error:
                raise DynamicSpecError(f"{self.describe()} input {name!r}: {error}") from None
        node = workflow_pb2.Node(id=node_id, inputs=bindings)
        for upstream in self.upstream:
            if upstream.id is None:
                raise DynamicSpecError(f"{self.describe()} runs after {upstream.describe()}, which was never yielded")
            node.upstream.append(upstream.id)
        return node

    def __repr__(self) -> str:
        return f"<node {self.id or '(not yielded)'} {self.describe()}>"

    def __iter__(self):
        raise TypeError("a node is not iterable; did you mean node.outputs.<name>?")


def _contains_promise(value: Any) -> bool:
    if isinstance(value, (Promise, Node)):
        return True
    if isinstance(value, (list, tuple)):
        return any(_contains_promise(item) for item in value)
    if isinstance(value, dict):
        return any(_contains_promise(item) for item in value.values())
    return False


def _element_type(py_type: Any, index: int) -> Any:
    if py_type is None:
        return None
    args = typing.get_args(py_type)
    origin = typing.get_origin(py_type)
    if origin in (typing.Union, pytypes.UnionType):
        rest = [arg for arg in args if arg is not type(None)]
        return _element_type(rest[0], index) if len(rest) == 1 else None
    return args[index] if len(args) > index else None


def binding(value: Any, py_type: Any = None) -> workflow_pb2.BindingData:
    """The binding of a value: a promise, a literal (of `py_type`, inferred when None), or a collection or map of
    bindings when a list or dict holds promises (a list or dict of literals binds as one literal)."""
    if isinstance(value, Node):
        outputs = value.output_types
        if outputs is None or len(outputs) != 1:
            raise DynamicSpecError(f"{value.describe()} is bound as a value: name the output, node.outputs.<name>")
        value = value.outputs[next(iter(outputs))]
    if isinstance(value, Promise):
        return workflow_pb2.BindingData(promise=value.to_proto())
    if _contains_promise(value):
        if isinstance(value, (list, tuple)):
            element = _element_type(py_type, 0)
            items = [binding(item, element) for item in value]
            return workflow_pb2.BindingData(collection=workflow_pb2.BindingCollection(bindings=items))
        element = _element_type(py_type, 1)
        entries = {key: binding(item, element) for key, item in value.items()}
        return workflow_pb2.BindingData(map=workflow_pb2.BindingMap(bindings=entries))
    return workflow_pb2.BindingData(literal=to_literal(value, py_type))


# --- branches ----------------------------------------------------------------------------------------------------

_COMPARISONS = {
    "==": workflow_pb2.COMPARISON_OPERATOR_EQ,
    "!=": workflow_pb2.COMPARISON_OPERATOR_NEQ,
    ">": workflow_pb2.COMPARISON_OPERATOR_GT,
    ">=": workflow_pb2.COMPARISON_OPERATOR_GTE,
    "<": workflow_pb2.COMPARISON_OPERATOR_LT,
    "<=": workflow_pb2.COMPARISON_OPERATOR_LTE,
}


class Condition:
    """A condition of a branch: comparisons of `var(name)` (an input of the branch) with constants or other inputs,
    joined with `&` and `|`."""

    def __init__(self, proto: workflow_pb2.BooleanExpression):
        self.proto = proto

    def __and__(self, other: Condition) -> Condition:
        return self._join(other, workflow_pb2.CONJUNCTION_OPERATOR_AND)

    def __or__(self, other: Condition) -> Condition:
        return self._join(other, workflow_pb2.CONJUNCTION_OPERATOR_OR)

    def _join(self, other: Condition, op: int) -> Condition:
        conjunction = workflow_pb2.ConjunctionExpression(op=op, left=self.proto, right=other.proto)
        return Condition(workflow_pb2.BooleanExpression(conjunction=conjunction))

    def __bool__(self) -> bool:
        raise TypeError("a branch condition is evaluated by the server; combine conditions with & and |")


def _operand(value: Any) -> workflow_pb2.Operand:
    if isinstance(value, Var):
        return workflow_pb2.Operand(var=value.name)
    return workflow_pb2.Operand(literal=to_literal(value, infer_type(value)))


class Var:
    """An input of a branch node, by name, in a condition: `var("x") > 3`."""

    def __init__(self, name: str):
        self.name = name

    def _compare(self, op: str, other: Any) -> Condition:
        comparison = workflow_pb2.ComparisonExpression(op=_COMPARISONS[op], left=_operand(self), right=_operand(other))
        return Condition(workflow_pb2.BooleanExpression(comparison=comparison))

    def __eq__(self, other: Any) -> Condition:  # type: ignore[override]
        return self._compare("==", other)

    def __ne__(self, other: Any) -> Condition:  # type: ignore[override]
        return self._compare("!=", other)

    def __gt__(self, other: Any) -> Condition:
        return self._compare(">", other)

    def __ge__(self, other: Any) -> Condition:
        return self._compare(">=", other)

    def __lt__(self, other: Any) -> Condition:
        return self._compare("<", other)

    def __le__(self, other: Any) -> Condition:
        return self._compare("<=", other)

    __hash__ = None  # type: ignore[assignment]


def var(name: str) -> Var:
    return Var(name)


class _BranchTarget:
    kind = "branch"
    display_name = "branch"
    interface = None


class Branch(Node):
    """`branch(x=promise).if_(var("x") > 3, big(n=...)).else_(small(n=...))`: the first case whose condition holds
    runs its node; the branch's outputs are that node's (`branch.outputs.name`). Arms are calls that are not yielded
    themselves; only the branch is."""

    def __init__(self, inputs: dict[str, Any]):
        super().__init__(_BranchTarget(), inputs)
        self.cases: list[tuple[Condition, Node]] = []
        self.else_node: Node | None = None
        self.else_error: str | None = None

    def if_(self, condition: Condition, node: Node) -> Branch:
        self.cases.append((condition, node))
        return self

    elif_ = if_

    def else_(self, node: Node) -> Branch:
        self.else_node = node
        return self

    def fail(self, message: str) -> Branch:
        """Fails the branch node with `message` when no case holds."""
        self.else_error = message
        return self

    @property
    def output_types(self) -> dict[str, Any] | None:
        arms = [node for _, node in self.cases] + ([self.else_node] if self.else_node else [])
        return arms[0].output_types if arms else None

    def arms(self) -> list[Node]:
        return [node for _, node in self.cases] + ([self.else_node] if self.else_node is not None else [])

    def to_proto(self, node_id: str) -> workflow_pb2.Node:
        if not self.cases:
            raise DynamicSpecError(f"branch {node_id} has no case: call .if_(condition, node) first")
        if self.else_node is None and self.else_error is None:
            raise DynamicSpecError(f"branch {node_id} needs .else_(node) or .fail(message)")
        bindings = [workflow_pb2.Binding(var=name, binding=binding(value)) for name, value in self.inputs.items()]
        branch = workflow_pb2.BranchNode()
        for index, (condition, node) in enumerate(self.cases):
            branch.cases.append(
                workflow_pb2.IfBlock(condition=condition.proto, then_node=node.to_proto(f"{node_id}-if{index}"))
            )
        if self.else_node is not None:
            branch.else_node.CopyFrom(self.else_node.to_proto(f"{node_id}-else"))
        else:
            branch.else_error = self.else_error or ""
        node = workflow_pb2.Node(id=node_id, inputs=bindings, branch=branch)
        node.upstream.extend(upstream.id for upstream in self.upstream if upstream.id is not None)
        return node


def branch(**inputs: Any) -> Branch:
    """Starts a branch node whose conditions read `inputs` (literals or promises) through `var(name)`."""
    return Branch(inputs)


# --- gates -------------------------------------------------------------------------------------------------------

SIGNAL_ID = re.compile(r"[A-Za-z0-9_-]{1,63}")
# The output of a signal gate, and of an approval (named after the one input it binds): Flyte's name for it too.
GATE_OUTPUT = "o0"


class _GateTarget:
    kind = "gate"
    interface = None

    def __init__(self, display_name: str):
        self.display_name = display_name


def _positive_duration(value: Any, what: str) -> Any:
    from gantry.task import _duration

    if isinstance(value, bool) or not isinstance(value, (dt.timedelta, int, float)):
        raise TypeError(f"{what} is a datetime.timedelta (or seconds), got {type(value).__name__}")
    duration = _duration(value)
    if duration.seconds < 0 or duration.nanos < 0 or not (duration.seconds or duration.nanos):
        raise ValueError(f"{what} must be positive, got {value!r}")
    return duration


def _signal_id(name: str) -> str:
    if not isinstance(name, str) or not SIGNAL_ID.fullmatch(name):
        raise ValueError(f"a signal id is 1 to 63 characters of [A-Za-z0-9_-], got {name!r}")
    return name


class Gate(Node):
    """A gate node: waits for time to pass (`sleep`), for a signal's value (`wait_for_input`) or for an approval
    (`approve`), runs nothing, and is yielded like any other node. Its id is `dn<N>` as for the others."""

    def __init__(
        self,
        condition: workflow_pb2.GateNode,
        display_name: str,
        inputs: dict[str, Any] | None = None,
        outputs: dict[str, Any] | None = None,
    ):
        super().__init__(_GateTarget(display_name), dict(inputs or {}))
        self.condition = condition
        self._outputs = dict(outputs or {})
        self._inputs = {name: self._outputs.get(name) for name in self.inputs}

    @property
    def output_types(self) -> dict[str, Any] | None:
        return self._outputs

    @property
    def input_types(self) -> dict[str, Any]:
        return self._inputs

    def with_overrides(self, **_: Any):
        raise TypeError(f"{self.describe()}: a gate node takes no overrides (give a timeout when making it)")

    def to_proto(self, node_id: str) -> workflow_pb2.Node:
        node = self._bound(node_id)
        node.gate.CopyFrom(self.condition)
        return node


def sleep(duration: dt.timedelta | float) -> Gate:
    """A gate that succeeds, with no outputs, once `duration` (a positive timedelta, or seconds) has passed since it
    started. Nodes that must wait for it say so: `node.after(gate)`."""
    gate = workflow_pb2.GateNode(sleep=_positive_duration(duration, "a sleep's duration"))
    return Gate(gate, f"sleep {duration}")


def wait_for_input(name: str, type: Any, timeout: dt.timedelta | float | None = None) -> Gate:
    """A gate that waits for the execution's signal `name` (`Client.set_signal`), a value of the Python type `type`,
    and outputs it as `o0`: bind the yielded gate itself (or `gate.outputs.o0`) to another node's input. Past
    `timeout`, when given, the gate is TIMED_OUT (error code `gate_timeout`)."""
    condition = workflow_pb2.SignalCondition(
        signal_id=_signal_id(name), type=literal_type(type), output_variable_name=GATE_OUTPUT
    )
    gate = workflow_pb2.GateNode(signal=condition)
    if timeout is not None:
        gate.timeout.CopyFrom(_positive_duration(timeout, "a gate's timeout"))
    return Gate(gate, f"signal {name}", outputs={GATE_OUTPUT: type})


def _value_type(value: Any) -> Any:
    if isinstance(value, Promise):
        return value.py_type
    if isinstance(value, Node):
        outputs = value.output_types
        return next(iter(outputs.values())) if outputs and len(outputs) == 1 else None
    return None


def approve(value: Any, name: str, timeout: dt.timedelta | float | None = None) -> Gate:
    """A gate that waits for the approval `name` (`Client.approve` or `Client.reject`) and then passes `value` (a
    promise of another node's output, or a literal) on as its output `o0`; a rejection fails the node (error code
    `gate_rejected`). Past `timeout`, when given, the gate is TIMED_OUT (error code `gate_timeout`)."""
    gate = workflow_pb2.GateNode(approve=workflow_pb2.ApproveCondition(signal_id=_signal_id(name)))
    if timeout is not None:
        gate.timeout.CopyFrom(_positive_duration(timeout, "a gate's timeout"))
    return Gate(gate, f"approval {name}", inputs={GATE_OUTPUT: value}, outputs={GATE_OUTPUT: _value_type(value)})


# --- the spec ----------------------------------------------------------------------------------------------------


class SpecBuilder:
    """Collects yielded nodes and the templates they need into a DynamicJobSpec, within `limits`."""

    def __init__(self, limits: SpecLimits | None = None) -> None:
        self.nodes: list[Node] = []
        self.limits = limits or SpecLimits()
        # The encoded size of the nodes so far, as yielded.
        self.size = 0

    def add(self, item: Any) -> Any:
        if isinstance(item, Node):
            if item.id is not None:
                raise DynamicSpecError(f"{item.describe()} was yielded twice")
            if len(self.nodes) >= self.limits.max_nodes:
                raise self.limits.too_many_nodes(len(self.nodes) + 1)
            item.id = f"dn{len(self.nodes)}"
            self._count_bytes(item)
            self.nodes.append(item)
            return item
        if isinstance(item, (list, tuple)):
            return [self.add(each) for each in item]
        raise DynamicSpecError(
            f"a dynamic task yields nodes (task calls, branches, gates), got {type(item).__name__}"
        )

    def _count_bytes(self, node: Node) -> None:
        try:
            encoded = node.to_proto(node.id)
        except DynamicSpecError:
            # It names a node yielded later (or is malformed): counted, or reported, when the spec is built.
            return
        size = self.size + field_len(NODES_FIELD, encoded.ByteSize())
        total = field_len(COMPLETION_SPEC_FIELD, size)
        if total > self.limits.max_bytes:
            node.id = None
            raise self.limits.too_many_bytes(total)
        self.size = size

    def spec(self, outputs: dict[str, Any], output_types: dict[str, Any]) -> dynamic_pb2.DynamicJobSpec:
        spec = dynamic_pb2.DynamicJobSpec()
        embedded: dict[tuple[str, str, str, str], Any] = {}
        workflows: dict[tuple[str, str, str, str], Any] = {}
        size = 0
        for node in self.nodes:
            encoded = node.to_proto(node.id)
            # The nodes alone may pass the byte limit: stop at the first that does, before encoding the rest.
            size += field_len(NODES_FIELD, encoded.ByteSize())
            if field_len(COMPLETION_SPEC_FIELD, size) > self.limits.max_bytes:
                raise self.limits.too_many_bytes(field_len(COMPLETION_SPEC_FIELD, size))
            spec.nodes.append(encoded)
            for each in node.arms() if isinstance(node, Branch) else [node]:
                template = getattr(each.target, "template", None)
                if template is None:
                    continue
                key = (template.id.project, template.id.domain, template.id.name, template.id.version)
                # Tasks ship their templates, so a spec runs even where they were never registered.
                (workflows if each.target.kind == "sub_workflow" else embedded).setdefault(key, template)
        spec.tasks.extend(embedded.values())
        spec.subworkflows.extend(workflows.values())
        for name, value in outputs.items():
            try:
                data = binding(value, output_types.get(name))
            except LiteralTypeError as error:
                raise DynamicSpecError(f"output {name!r}: {error}") from None
            spec.outputs.append(workflow_pb2.Binding(var=name, binding=data))
        total = field_len(COMPLETION_SPEC_FIELD, spec.ByteSize())
        if total > self.limits.max_bytes:
            raise self.limits.too_many_bytes(total)
        return spec


def named_outputs(result: Any, output_types: dict[str, Any], task_name: str) -> dict[str, Any]:
    """A function's return value as named outputs: one output takes the value, several a tuple or a dict."""
    names = list(output_types)
    if not names:
        if result is not None:
            raise TypeError(f"{task_name} declares no outputs but returned {type(result).__name__}")
        return {}
    if len(names) == 1:
        return {names[0]: result}
    if isinstance(result, dict):
        missing = [name for name in names if name not in result]
        if missing:
            raise TypeError(f"{task_name} did not return output {missing[0]!r}")
        return {name: result[name] for name in names}
    if isinstance(result, tuple) and len(result) == len(names):
        return dict(zip(names, result, strict=True))
    raise TypeError(f"{task_name} returns {len(names)} outputs {names}: return a tuple (or the NamedTuple)")


def build_spec(task: Any, inputs: dict[str, Any], limits: SpecLimits | None = None) -> dynamic_pb2.DynamicJobSpec:
    """Runs a dynamic task's generator on `inputs` and returns the spec it describes, within `limits` (a server's
    defaults when None). A yield past the node limit raises `SpecTooLarge` at the `yield`, in the generator."""
    builder = SpecBuilder(limits)
    with _building():
        produced = task.fn(**inputs)
        if inspect.isgenerator(produced):
            try:
                item = next(produced)
                while True:
                    try:
                        node = builder.add(item)
                    except SpecTooLarge as error:
                        # Raised where the generator yielded: it stops there unless it catches the error, and one
                        # that catches it and yields on is stopped all the same.
                        produced.throw(error)
                        produced.close()
                        raise error from None
                    item = produced.send(node)
            except StopIteration as stop:
                result = stop.value
        else:
            result = produced
        outputs = named_outputs(result, task.interface.outputs, task.name)
        return builder.spec(outputs, task.interface.outputs)
