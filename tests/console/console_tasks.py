"""Python tasks the console's browser tests run beside the Rust examples: children that take a while (to watch an
execution live and to terminate one mid-run) and a fan-out whose one child fails (to follow the error to its leaf)."""

from __future__ import annotations

import time

from gantry import dynamic_task, task


@task(name="console_nap", output_name="slept")
def nap(index: int, seconds: float) -> int:
    """Sleeps `seconds` (in steps, so that a stopping worker is not held long), then returns its index."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return index


@dynamic_task(name="console_naps")
def naps(count: int, seconds: float) -> list[int]:
    """`count` naps of `seconds` each."""
    slept = []
    for index in range(count):
        child = nap(index=index, seconds=seconds)
        yield child
        slept.append(child.outputs.slept)
    return slept


@task(name="console_boom", output_name="value")
def boom(index: int, fail_at: int) -> int:
    """Returns its index, except at `fail_at`, where it fails."""
    if index == fail_at:
        raise ValueError(f"boom at index {index}")
    return index


@dynamic_task(name="console_booms")
def booms(count: int, fail_at: int) -> list[int]:
    """`count` children, the one at `fail_at` failing."""
    values = []
    for index in range(count):
        child = boom(index=index, fail_at=fail_at)
        yield child
        values.append(child.outputs.value)
    return values


TASKS = [nap, naps, boom, booms]
