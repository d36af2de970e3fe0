"""Gantry's Python SDK: tasks and dynamic tasks from type-hinted functions, a worker that runs them, and a client.

```python
from gantry import task, dynamic_task

@task(output_name="other_task_out")
def other_task(index: int) -> int:
    return index * 2

@dynamic_task(cache_version="1")
def generate_others(tasks_count: int) -> list[int]:
    res = []
    for i in range(tasks_count):
        task = other_task(index=i)
        yield task
        res.append(task.outputs.other_task_out)
    return res
```

`gantry.Worker(address, tasks=[...]).run()` runs them (or, with `handler=`, one function serves whole assignments:
see `gantry.handler`); `gantry.Client(address).run(generate_others, tasks_count=10)`
starts an execution. The protobuf and gRPC modules (`gantry.v1`) are generated from the IDL when the package is built.
"""

from gantry.client import Client, Execution, Signal, phase_name
from gantry.dynamic import Branch, Gate, Node, Promise, approve, branch, sleep, var, wait_for_input
from gantry.errors import ExecutionFailed, GantryError, SystemTaskError, TaskError, TlsError, UserError
from gantry.handler import Assignment, task_handler
from gantry.limits import SpecLimits, SpecTooLarge
from gantry.plugin import TaskPlugin
from gantry.schedules import CronSchedule, FixedRate, ScheduleState
from gantry.task import (
    DEFAULT_DOMAIN,
    DEFAULT_PROJECT,
    LaunchPlanReference,
    TaskFunction,
    TaskReference,
    WorkflowReference,
    dynamic_task,
    reference_launch_plan,
    reference_task,
    reference_workflow,
    task,
)
from gantry.types import Blob, Directory, ErrorValue, hashed
from gantry.worker import AttemptContext, Worker, current_context

__all__ = [
    "Assignment",
    "AttemptContext",
    "DEFAULT_DOMAIN",
    "DEFAULT_PROJECT",
    "Blob",
    "Branch",
    "Client",
    "CronSchedule",
    "Directory",
    "ErrorValue",
    "Execution",
    "ExecutionFailed",
    "FixedRate",
    "GantryError",
    "Gate",
    "LaunchPlanReference",
    "Node",
    "Promise",
    "ScheduleState",
    "Signal",
    "SpecLimits",
    "SpecTooLarge",
    "SystemTaskError",
    "TaskError",
    "TaskFunction",
    "TaskPlugin",
    "TaskReference",
    "TlsError",
    "UserError",
    "Worker",
    "WorkflowReference",
    "approve",
    "branch",
    "current_context",
    "dynamic_task",
    "hashed",
    "phase_name",
    "reference_launch_plan",
    "reference_task",
    "reference_workflow",
    "sleep",
    "task",
    "task_handler",
    "var",
    "wait_for_input",
]
