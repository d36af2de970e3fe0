"""Tasks: the `@task` and `@dynamic_task` decorators, their interfaces from type hints, and references to tasks,
workflows and launch plans defined elsewhere (another language's worker, or registered by hand).

A decorated function is a `TaskFunction`. Called inside a dynamic task's generator it does not run: it makes a
`Node` to yield, whose `outputs` are promises. Called anywhere else it runs the function locally, which is how it is
unit-tested.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import datetime as dt
import inspect
import typing
from typing import Any, Callable

from gantry import dynamic
from gantry.plugin import TaskPlugin
from gantry.types import literal_type, to_literal
from gantry.v1 import identifier_pb2, interface_pb2, task_pb2

# The project and domain of tasks that name none: the same as the Rust SDK's (`gantry_worker::DEFAULT_PROJECT`) and
# the CLI's (`gantry list --project`), so that what one registers or starts the others list.
DEFAULT_PROJECT = "demo"
DEFAULT_DOMAIN = "dev"
DEFAULT_VERSION = "1"
# Python tasks get a queue of their own by default, so that a worker in another language polling `default` never
# claims an attempt it has no code for.
DEFAULT_QUEUE = "python"
DEFAULT_OUTPUT = "out"


def identifier(project: str, domain: str, name: str, version: str) -> identifier_pb2.Identifier:
    return identifier_pb2.Identifier(project=project, domain=domain, name=name, version=version)


def parse_identifier(text: str) -> identifier_pb2.Identifier:
    """`project/domain/name@version` as an Identifier."""
    path, at, version = text.rpartition("@")
    parts = path.split("/") if at else []
    if len(parts) != 3 or not all(parts) or not version:
        raise ValueError(f"expected project/domain/name@version, got {text!r}")
    return identifier(parts[0], parts[1], parts[2], version)


def format_identifier(ident: identifier_pb2.Identifier) -> str:
    return f"{ident.project}/{ident.domain}/{ident.name}@{ident.version}"


def _duration(value: dt.timedelta | float) -> Any:
    from gantry.types import duration_of

    if not isinstance(value, dt.timedelta):
        value = dt.timedelta(seconds=value)
    return duration_of(value)


def _is_named_tuple(py_type: Any) -> bool:
    return isinstance(py_type, type) and issubclass(py_type, tuple) and hasattr(py_type, "_fields")


def output_types_of(return_type: Any, output_name: str) -> dict[str, Any]:
    """The named outputs of a return annotation: none for `None`, one per field of a NamedTuple, else one named
    `output_name`."""
    if return_type in (None, type(None), inspect.Signature.empty):
        return {}
    if _is_named_tuple(return_type):
        hints = typing.get_type_hints(return_type)
        return {name: hints[name] for name in return_type._fields}
    return {output_name: return_type}


@dataclasses.dataclass
class Interface:
    """Inputs and outputs with their Python types, in declaration order; inputs may have defaults."""

    inputs: dict[str, Any]
    outputs: dict[str, Any]
    defaults: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_proto(self) -> interface_pb2.TypedInterface:
        inputs = []
        for name, py_type in self.inputs.items():
            variable = interface_pb2.Variable(name=name, type=literal_type(py_type))
            if name in self.defaults:
                variable.default.CopyFrom(to_literal(self.defaults[name], py_type))
            inputs.append(variable)
        outputs = [interface_pb2.Variable(name=n, type=literal_type(t)) for n, t in self.outputs.items()]
        return interface_pb2.TypedInterface(inputs=inputs, outputs=outputs)


def interface_of(fn: Callable[..., Any], output_name: str) -> Interface:
    signature = inspect.signature(fn)
    hints = typing.get_type_hints(fn)
    inputs: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise TypeError(f"{fn.__qualname__}: *args and **kwargs cannot be task inputs")
        if parameter.name not in hints:
            raise TypeError(f"{fn.__qualname__}: input {parameter.name!r} needs a type hint")
        inputs[parameter.name] = hints[parameter.name]
        if parameter.default is not inspect.Parameter.empty:
            defaults[parameter.name] = parameter.default
    return_type = hints.get("return", inspect.Signature.empty)
    if inspect.isgeneratorfunction(fn) and typing.get_origin(return_type) is collections.abc.Generator:
        # `-> Generator[Node, Node, T]` is accepted as well as the plain `-> T` of the seed.
        return_type = typing.get_args(return_type)[2]
    return Interface(inputs=inputs, outputs=output_types_of(return_type, output_name), defaults=defaults)


class Target:
    """Something a dynamic task can yield a call of: a task, a launch plan or a workflow."""

    kind: str
    id: identifier_pb2.Identifier
    interface: Interface | None

    def _bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if args:
            if self.interface is None:
                raise TypeError(f"{self.display_name}: pass inputs by name")
            names = list(self.interface.inputs)
            if len(args) > len(names):
                raise TypeError(f"{self.display_name} takes {len(names)} inputs, got {len(args)} positional")
            for name, value in zip(names, args, strict=False):
                if name in kwargs:
                    raise TypeError(f"{self.display_name}: input {name!r} given twice")
                kwargs[name] = value
        if self.interface is not None:
            unknown = sorted(set(kwargs) - set(self.interface.inputs))
            if unknown:
                raise TypeError(
                    f"{self.display_name} has no input {unknown[0]!r} (inputs: {list(self.interface.inputs)})"
                )
            missing = [n for n in self.interface.inputs if n not in kwargs and n not in self.interface.defaults]
            if missing:
                raise TypeError(f"{self.display_name}: missing input {missing[0]!r}")
        return kwargs

    @property
    def display_name(self) -> str:
        return format_identifier(self.id)

    def node(self, *args: Any, **kwargs: Any) -> dynamic.Node:
        """A node running this with the given inputs (literal values or promises), to yield from a dynamic task."""
        inputs = self._bind(args, dict(kwargs))
        return dynamic.Node(target=self, inputs=inputs)


class TaskFunction(Target):
    """A function decorated with `@task` or `@dynamic_task`."""

    kind = "task"

    def __init__(self, fn: Callable[..., Any], *, dynamic_task: bool, options: dict[str, Any]):
        self.fn = fn
        self.is_dynamic = dynamic_task
        name = options.pop("name", None) or fn.__name__
        output_name = options.pop("output_name", DEFAULT_OUTPUT)
        self.id = identifier(
            options.pop("project", DEFAULT_PROJECT),
            options.pop("domain", DEFAULT_DOMAIN),
            name,
            str(options.pop("version", DEFAULT_VERSION)),
        )
        self.interface = interface_of(fn, output_name)
        self.metadata = _metadata(options)
        self.plugin: TaskPlugin | None = options.pop("plugin", None)
        if self.plugin is not None and not isinstance(self.plugin, TaskPlugin):
            raise TypeError(f"{fn.__qualname__}: plugin must be a gantry.TaskPlugin, got {self.plugin!r}")
        if options:
            raise TypeError(f"{fn.__qualname__}: unknown task options {sorted(options)}")
        self.template = task_pb2.TaskTemplate(id=self.id, interface=self.interface.to_proto(), metadata=self.metadata)
        if self.plugin is not None:
            self.template.plugin.CopyFrom(self.plugin.to_proto())
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__wrapped__ = fn

    @property
    def name(self) -> str:
        return self.id.name

    @property
    def queue(self) -> str:
        return self.metadata.queue or "default"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if dynamic.building():
            return self.node(*args, **kwargs)
        if self.is_dynamic:
            raise RuntimeError(
                f"{self.fn.__qualname__} is a dynamic task: run it with Client.run, or yield it from another one"
            )
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        kind = "dynamic_task" if self.is_dynamic else "task"
        return f"<{kind} {format_identifier(self.id)} queue={self.queue}>"


def _metadata(options: dict[str, Any]) -> task_pb2.TaskMetadata:
    metadata = task_pb2.TaskMetadata(queue=options.pop("queue", DEFAULT_QUEUE))
    cache_version = options.pop("cache_version", None)
    cache = options.pop("cache", cache_version is not None)
    if cache and not cache_version:
        raise TypeError("cache=True needs a cache_version")
    metadata.cache = bool(cache)
    metadata.cache_version = cache_version or ""
    metadata.cache_serializable = bool(options.pop("cache_serializable", False))
    retries = options.pop("retries", None)
    system_retries = options.pop("system_retries", None)
    if retries is not None or system_retries is not None:
        policy = task_pb2.RetryPolicy(
            user_retries=retries or 0, system_retries=3 if system_retries is None else system_retries
        )
        backoff = options.pop("backoff", None)
        if backoff is not None:
            policy.initial_backoff.CopyFrom(_duration(backoff))
        metadata.retries.CopyFrom(policy)
    timeout = options.pop("timeout", None)
    if timeout is not None:
        metadata.timeout.CopyFrom(_duration(timeout))
    return metadata


def task(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Declares a task. Inputs are the parameters and outputs the return annotation (one output named `out`, or
    `output_name`; a NamedTuple for several). Options: `name` (default: the function's), `project`, `domain`,
    `version`, `queue` (default `python`), `retries` (user retries after a recoverable error), `system_retries`,
    `backoff`, `timeout` (seconds or timedelta), `cache_version` (turns caching on), `cache_serializable`, `plugin` (a
    `TaskPlugin` payload stored with the template and handed to its workers untouched)."""
    if fn is not None:
        return TaskFunction(fn, dynamic_task=False, options=options)
    return lambda f: TaskFunction(f, dynamic_task=False, options=options)


def dynamic_task(fn: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Declares a dynamic task: a generator that yields nodes (task calls, launch plans, workflows, branches) and
    returns its outputs as values or promises of the nodes' outputs. Takes the options of `task`."""
    if fn is not None:
        return TaskFunction(fn, dynamic_task=True, options=options)
    return lambda f: TaskFunction(f, dynamic_task=True, options=options)


class _Reference(Target):
    def __init__(
        self,
        ident: str | identifier_pb2.Identifier,
        inputs: dict[str, Any] | None,
        outputs: dict[str, Any] | list[str] | None,
    ):
        self.id = parse_identifier(ident) if isinstance(ident, str) else ident
        if inputs is None and outputs is None:
            self.interface = None
        else:
            output_types = dict.fromkeys(outputs) if isinstance(outputs, list) else dict(outputs or {})
            self.interface = Interface(inputs=dict(inputs or {}), outputs=output_types)

    def __call__(self, *args: Any, **kwargs: Any) -> dynamic.Node:
        if not dynamic.building():
            raise RuntimeError(f"{self.display_name} is a reference: yield it from a dynamic task, or Client.run it")
        return self.node(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<{self.kind} reference {self.display_name}>"


class TaskReference(_Reference):
    """A task registered by someone else (a Rust worker's, say), called from a dynamic task by its id. With `inputs`
    and `outputs` types, calls are checked and values encoded as declared; without, types are inferred."""

    kind = "task"


class LaunchPlanReference(_Reference):
    """A registered launch plan; a yielded call starts a child execution and brings its outputs back."""

    kind = "launch_plan"


class WorkflowReference(_Reference):
    """A workflow run inside the same execution as a sub-workflow node: registered, or embedded with `template`."""

    kind = "sub_workflow"

    def __init__(self, ident, inputs=None, outputs=None, template=None):
        super().__init__(ident, inputs, outputs)
        self.template = template


def reference_task(ident: str, inputs: dict[str, Any] | None = None, outputs: Any = None) -> TaskReference:
    """A registered task by `project/domain/name@version`; see `TaskReference`."""
    return TaskReference(ident, inputs, outputs)


def reference_launch_plan(ident: str, inputs: dict[str, Any] | None = None, outputs: Any = None) -> LaunchPlanReference:
    return LaunchPlanReference(ident, inputs, outputs)


def reference_workflow(ident: str, inputs=None, outputs=None, template=None) -> WorkflowReference:
    return WorkflowReference(ident, inputs, outputs, template)
