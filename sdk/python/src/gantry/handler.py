"""Generic handlers: one function that serves whole assignments, instead of `@task` functions dispatched by name.

A worker that runs tasks described elsewhere (the flytekit bridge runs Flyte tasks from their plugin
payload) cannot have a Python function per task. It gives the worker a handler instead:

```python
def run_flyte(assignment: gantry.Assignment):
    plugin = assignment.plugin          # the template's TaskPlugin, exactly as registered (or None)
    inputs = assignment.inputs          # a LiteralMap, references already read
    ...                                 # assignment.context: heartbeats run by the worker; watch .cancelled
    return outputs                      # a LiteralMap, a DynamicJobSpec or an ExecutionError; or raise

gantry.Worker(address, queues=["flyte"], handler=run_flyte).run()
```

The worker calls the handler for every attempt it claims whose task is not one of its `tasks`, and, with an `accepts`
predicate, only for templates it accepts (any other attempt fails with a recoverable system error `unknown_task`, as
for a task the worker has no function for). What the handler returns completes the attempt: a `LiteralMap` as its
outputs, a `DynamicJobSpec` as a dynamic spec, an `ExecutionError` as its error, exactly as given. An exception it
raises is reported as a `@task`'s is (`gantry.errors`): a `UserError` or `SystemTaskError` with its kind,
recoverability and code, any other exception as a non-recoverable user error carrying its traceback. Anything else
returned is a non-recoverable user error `bad_output`.

`@task` and `@dynamic_task` functions run through the same path: `task_handler(task)` is the handler of one.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable, Union

from gantry.dynamic import DynamicSpecError, build_spec, named_outputs
from gantry.errors import execution_error
from gantry.plugin import TaskPlugin
from gantry.types import LiteralTypeError, literal_map, python_values
from gantry.v1 import dynamic_pb2, execution_pb2, identifier_pb2, literals_pb2, task_pb2, worker_pb2

if TYPE_CHECKING:
    from gantry.task import TaskFunction
    from gantry.worker import AttemptContext


@dataclasses.dataclass
class Assignment:
    """One attempt, as a handler gets it: the task's template (node overrides applied), the inputs as literals (values
    too large for the poll already read), and the attempt's context (ids, deadline, `cancelled`, spec limits)."""

    task: task_pb2.TaskTemplate
    inputs: literals_pb2.LiteralMap
    context: AttemptContext

    @property
    def task_id(self) -> identifier_pb2.Identifier:
        return self.task.id

    @property
    def plugin(self) -> TaskPlugin | None:
        """The template's plugin payload, byte for byte as registered (or embedded in the spec that made the node)."""
        return self.context.plugin


Result = Union[literals_pb2.LiteralMap, dynamic_pb2.DynamicJobSpec, execution_pb2.ExecutionError]
Handler = Callable[[Assignment], Result]


def run_handler(handler: Handler, assignment: Assignment, completion: worker_pb2.Completion) -> None:
    """Runs `handler` and writes what it returned, or the error it raised, into `completion`."""
    try:
        result = handler(assignment)
    except Exception as error:  # noqa: BLE001 - any exception is the attempt's failure, reported with its traceback
        completion.error.CopyFrom(execution_error(error))
        return
    if isinstance(result, literals_pb2.LiteralMap):
        completion.outputs.CopyFrom(result)
    elif isinstance(result, dynamic_pb2.DynamicJobSpec):
        completion.dynamic_spec.CopyFrom(result)
    elif isinstance(result, execution_pb2.ExecutionError):
        completion.error.CopyFrom(result)
    else:
        problem = TypeError(
            f"a handler returns a LiteralMap, a DynamicJobSpec or an ExecutionError, not {type(result).__name__}"
        )
        completion.error.CopyFrom(execution_error(problem, code="bad_output"))


def task_handler(task: TaskFunction) -> Handler:
    """The handler of a `@task` or `@dynamic_task` function: inputs decoded with its types (`bad_input` if they do not
    fit), the function run (or the generator built into a spec, `bad_spec` if it is not one), its return value encoded
    as its outputs (`bad_output` if it does not fit)."""

    def handle(assignment: Assignment) -> Result:
        try:
            inputs = python_values(assignment.inputs, task.interface.inputs)
        except (LiteralTypeError, ValueError, TypeError) as error:
            return execution_error(error, code="bad_input")
        try:
            if task.is_dynamic:
                return build_spec(task, inputs, assignment.context.spec_limits)
            result = task.fn(**inputs)
        except DynamicSpecError as error:
            return execution_error(error, code="bad_spec")
        try:
            values = named_outputs(result, task.interface.outputs, task.name)
            return literal_map(values, task.interface.outputs)
        except (LiteralTypeError, TypeError) as error:
            return execution_error(error, code="bad_output")

    return handle
