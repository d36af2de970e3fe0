"""flytekit's gate nodes on Gantry: `wait_for_input` (a signal whose value a task consumes), `approve` (of a task's
output) and `sleep` (ordered before a task with `>>`), in workflows and inside a `@dynamic` (futures.pb). Their signals
are set through Gantry's API (`gantry.Client.set_signal`, `approve`, `reject`). Not for `pyflyte run`: locally, a
gate asks on stdin."""

from __future__ import annotations

from datetime import timedelta

from flytekit import approve, dynamic, sleep, task, wait_for_input, workflow

WAIT = timedelta(minutes=10)


@task
def times(x: int, y: int) -> int:
    return x * y


@task
def plus_one(x: int) -> int:
    return x + 1


@workflow
def signal_wf(x: int) -> int:
    """x times the signal `factor`."""
    factor = wait_for_input("factor", timeout=WAIT, expected_type=int)
    return times(x=x, y=factor)


@workflow
def approve_wf(x: int) -> int:
    """x + 1 (`increment`), approved (`review`), plus one again."""
    incremented = plus_one(x=x)
    approved = approve(incremented, "review", timeout=WAIT)
    return plus_one(x=approved)


@workflow
def sleep_wf(x: int) -> int:
    """x + 1 after a one-second sleep."""
    pause = sleep(timedelta(seconds=1))
    result = plus_one(x=x)
    pause >> result
    return result


@workflow
def brief_wf(x: int) -> int:
    """Waits one second at most for `late`."""
    late = wait_for_input("late", timeout=timedelta(seconds=1), expected_type=int)
    return times(x=x, y=late)


@dynamic
def dyn_gates(x: int) -> int:
    """All three in a dynamic: a sleep, then the signal `factor` times x, approved (`review`), plus one."""
    pause = sleep(timedelta(seconds=1))
    factor = wait_for_input("factor", timeout=WAIT, expected_type=int)
    product = times(x=x, y=factor)
    pause >> product
    approved = approve(product, "review", timeout=WAIT)
    return plus_one(x=approved)
