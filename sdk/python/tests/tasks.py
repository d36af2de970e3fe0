"""The Python tasks the suites run, in project `pytest` (and `demo/dev` for the cross-language ones, named by the Rust
example in crates/gantry-examples/src/cross_language.rs)."""

from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import threading
from typing import NamedTuple, Optional, Union

from gantry import (
    Blob,
    Directory,
    ErrorValue,
    SystemTaskError,
    UserError,
    branch,
    current_context,
    dynamic_task,
    reference_launch_plan,
    reference_task,
    reference_workflow,
    task,
    var,
)

PROJECT = {"project": "pytest", "domain": "dev"}


@dataclasses.dataclass
class Owner:
    name: str
    joined: dt.datetime


@dataclasses.dataclass
class Record:
    id: int
    score: float
    label: str
    active: bool
    tags: list[str]
    weights: dict[str, float]
    owner: Owner
    parent: Optional[int]
    payload: bytes
    timeout: dt.timedelta
    source: Blob


class Everything(NamedTuple):
    i: int
    f: float
    s: str
    b: bool
    when: dt.datetime
    span: dt.timedelta
    raw: bytes
    ints: list[int]
    nested: dict[str, list[float]]
    maybe: Optional[int]
    nothing: Optional[str]
    either: Union[int, str]
    record: Record
    records: list[Record]
    blob: Blob
    folder: Directory
    free: dict


EXPECTED_TYPES = {
    "i": int,
    "f": float,
    "s": str,
    "b": bool,
    "when": dt.datetime,
    "span": dt.timedelta,
    "raw": bytes,
    "ints": list,
    "nested": dict,
    "maybe": int,
    "nothing": type(None),
    "either": str,
    "record": Record,
    "records": list,
    "blob": Blob,
    "folder": Directory,
    "free": dict,
}


@task(**PROJECT)
def echo_everything(
    i: int,
    f: float,
    s: str,
    b: bool,
    when: dt.datetime,
    span: dt.timedelta,
    raw: bytes,
    ints: list[int],
    nested: dict[str, list[float]],
    maybe: Optional[int],
    nothing: Optional[str],
    either: Union[int, str],
    record: Record,
    records: list[Record],
    blob: Blob,
    folder: Directory,
    free: dict,
) -> Everything:
    values = dict(locals())
    for name, expected in EXPECTED_TYPES.items():
        if type(values[name]) is not expected:
            raise TypeError(f"input {name} arrived as {type(values[name]).__name__}, not {expected.__name__}")
    return Everything(**values)


@task(**PROJECT)
def add_one(x: int) -> int:
    return x + 1


@task(**PROJECT)
def total(values: list[int], bonus: int = 0) -> int:
    return sum(values) + bonus


@dynamic_task(**PROJECT)
def chain(n: int) -> int:
    """Promises feed further nodes: add_one(add_one(n)), then total over a list mixing promises and literals."""
    first = yield add_one(x=n)
    second = yield add_one(x=first.outputs.out)
    summed = yield total(values=[first.outputs.out, second.outputs.out, 100])
    return summed.outputs.out


class Split(NamedTuple):
    evens: list[int]
    label: str


@dynamic_task(**PROJECT)
def split_outputs(n: int) -> Split:
    nodes = [add_one(x=2 * i - 1) for i in range(n)]
    yield nodes
    return Split(evens=[node.outputs.out for node in nodes], label=f"{n} evens")


@task(**PROJECT)
def explode(message: str) -> int:
    return _fail_deeply(message)


def _fail_deeply(message: str) -> int:
    raise ValueError(f"exploded: {message}")


# Attempts seen per execution, for the retry test.
ATTEMPTS: collections.Counter = collections.Counter()


@task(retries=1, backoff=0.05, **PROJECT)
def flaky(x: int) -> int:
    context = current_context()
    ATTEMPTS[context.execution_id] += 1
    if context.attempt == 0:
        raise UserError("first attempts fail here", recoverable=True, code="flaky")
    return x


@task(system_retries=0, **PROJECT)
def infrastructure_down() -> None:
    raise SystemTaskError("the database went away", recoverable=False, code="db_down")


# Generator runs per cache key, for the cache test.
GENERATOR_RUNS: collections.Counter = collections.Counter()


@dynamic_task(cache_version="1", **PROJECT)
def cached_fan_out(count: int, salt: str) -> list[int]:
    GENERATOR_RUNS[salt] += 1
    res = []
    for i in range(count):
        node = add_one(x=i)
        yield node
        res.append(node.outputs.out)
    return res


# Cancellation seen per execution, for the termination test.
CANCEL_SEEN: dict[str, threading.Event] = collections.defaultdict(threading.Event)
STARTED: dict[str, threading.Event] = collections.defaultdict(threading.Event)


@task(**PROJECT)
def wait_for_cancel(limit_seconds: float) -> bool:
    context = current_context()
    STARTED[context.execution_id].set()
    cancelled = context.cancelled.wait(limit_seconds)
    if cancelled:
        CANCEL_SEEN[context.execution_id].set()
    return cancelled


# --- every node kind (test_node_kinds.py registers the workflow and the launch plan) ---------------------------------

add_two = reference_workflow("pytest/dev/add_two@1", inputs={"x": int}, outputs={"out": int})
total_with_bonus = reference_launch_plan(
    "pytest/dev/total_with_bonus@1", inputs={"values": list[int]}, outputs={"out": int}
)


@dynamic_task(**PROJECT)
def every_node_kind(n: int) -> list[int]:
    planned = yield total_with_bonus(values=[n, n])
    workflow = yield add_two(x=n)
    chosen = yield branch(v=workflow.outputs.out).if_(var("v") > 10, add_one(x=100)).else_(add_one(x=-1))
    plain = yield add_one(x=chosen.outputs.out)
    return [planned.outputs.out, workflow.outputs.out, chosen.outputs.out, plain.outputs.out]


# --- cross-language ------------------------------------------------------------------------------------------------

# The Rust example worker's tasks (crates/gantry-examples), named by id.
rust_other_task = reference_task("demo/dev/other_task@1", inputs={"index": int}, outputs={"other_task_out": int})
rust_fans_out_python = reference_task(
    "demo/dev/rust_fans_out_python@1", inputs={"count": int}, outputs={"out": list[int]}
)


@task(project="demo", domain="dev")
def py_square(x: int) -> int:
    """Run by this Python worker for the Rust dynamic `rust_fans_out_python`."""
    return x * x


class Crossed(NamedTuple):
    doubled: list[int]
    squared: list[int]


@dynamic_task(project="demo", domain="dev")
def py_cross(n: int) -> Crossed:
    """A Python dynamic task yielding Rust tasks: n × Rust other_task, and the Rust dynamic that yields n × Python
    py_square."""
    doubled = []
    for i in range(n):
        node = rust_other_task(index=i)
        yield node
        doubled.append(node.outputs.other_task_out)
    squares = yield rust_fans_out_python(count=n)
    return Crossed(doubled=doubled, squared=squares.outputs.out)


@task(**PROJECT)
def describe_failure(failure: ErrorValue, retry: Optional[ErrorValue] = None) -> ErrorValue:
    """What a failure handler does with the error it is given: reads it, and passes an error value on."""
    return ErrorValue(failed_node_id=failure.failed_node_id, message=f"handled: {failure.message}; retry: {retry}")


ALL = [
    echo_everything,
    describe_failure,
    add_one,
    total,
    chain,
    split_outputs,
    explode,
    flaky,
    infrastructure_down,
    cached_fan_out,
    wait_for_cancel,
    every_node_kind,
    py_square,
    py_cross,
]
